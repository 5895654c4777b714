import t from 'tap';
import { didYouMean, editDistance, nearestWords } from '../../src/base/did-you-mean.js';

t.test('a swap of two neighbours is one edit, not two', async (t) => {
  t.equal(editDistance('retires', 'retries'), 1);
  t.equal(editDistance('exce', 'exec'), 1);
  t.equal(editDistance('apiVerison', 'apiVersion'), 1);
  t.equal(editDistance('restrat', 'restart'), 1);
  t.equal(editDistance('abrot', 'abort'), 1);
});

t.test('insert, delete and replace are one edit each; case is ignored', async (t) => {
  t.equal(editDistance('image', 'images'), 1);
  t.equal(editDistance('comand', 'command'), 1);
  t.equal(editDistance('dnf', 'env'), 2);
  t.equal(editDistance('OnFailure', 'onFailure'), 0);
  t.equal(editDistance('', 'abc'), 3);
  t.equal(editDistance('abc', ''), 3);
  t.equal(editDistance('kitten', 'sitting'), 3);
});

t.test('the nearest known word, within a third of the word\'s length', async (t) => {
  // With Levenshtein (a swap = 2) "exce" would be as near "once" as "exec"; here it is not.
  t.same(nearestWords('exce', ['exec', 'once', 'name']), ['exec']);
  t.same(nearestWords('dnf', ['env', 'name', 'exec']), [], 'two edits in three letters is not a typo');
  t.same(nearestWords('s3', ['file', 'userdata', 'tags']), []);
  t.same(nearestWords('tag', ['file', 'userdata', 'tags']), ['tags']);
  t.same(nearestWords('stat', ['start', 'stop', 'state']), ['start', 'state'], 'every one as near');
  t.same(nearestWords('exec', ['exec', 'once']), [], 'the word itself is no guess');
  t.same(nearestWords('x'.repeat(100_000), ['exec']), [], 'a huge word costs nothing and matches nothing');
});

t.test('didYouMean words the guess for the end of a message', async (t) => {
  t.equal(didYouMean('retires', ['retries', 'timeout']), '; did you mean "retries"?');
  t.equal(didYouMean('exce', ['exec'], 'the kind '), '; did you mean the kind "exec"?');
  t.equal(didYouMean('stat', ['start', 'state']), '; did you mean "start" or "state"?');
  t.equal(didYouMean('zzz', ['exec']), '');
});
