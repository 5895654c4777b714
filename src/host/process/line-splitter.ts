import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a byte stream into lines without ever holding more than `maxLine` bytes, so a task that prints
 * 100 MB without a newline cannot grow the agent's memory.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private overflowing = false;

  constructor(
    private readonly maxLine: number,
    private readonly emit: (line: string, truncated: boolean) => void,
  ) {}

  push(chunk: Buffer): void {
    let text = this.pending + this.decoder.write(chunk);
    let nl: number;
    while ((nl = text.indexOf('\n')) !== -1) {
      const line = text.slice(0, nl).replace(/\r$/, '');
      text = text.slice(nl + 1);
      if (this.overflowing) this.overflowing = false;
      else this.emit(line, false);
    }
    if (text.length > this.maxLine) {
      if (!this.overflowing) this.emit(text.slice(0, this.maxLine), true);
      this.overflowing = true;
      text = '';
    }
    this.pending = text;
  }

  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (rest.length > 0 && !this.overflowing) this.emit(rest, false);
    this.overflowing = false;
  }
}
