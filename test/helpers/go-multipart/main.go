// Reads user-data documents the way nodeadm does (net/mail for the outer headers, then Go's mime/multipart),
// for test/sources/userdata-go-reader.test.ts to compare postjoin's MIME split with. Input on stdin: a JSON list of
// base64 documents. Output: one JSON result per document. Parts are read raw (NextRawPart), so that bodies
// compare byte for byte with postjoin's; nodeadm's NextPart differs only in decoding quoted-printable.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"strings"
)

type part struct {
	Type string `json:"type"`
	Body string `json:"body"`
}

type result struct {
	Multipart bool   `json:"multipart"`
	Parts     []part `json:"parts"`
	Err       string `json:"err,omitempty"`
}

func read(doc []byte) result {
	msg, err := mail.ReadMessage(bytes.NewReader(doc))
	if err != nil {
		return result{}
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		return result{}
	}
	out := result{Multipart: true, Parts: []part{}}
	reader := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; ; i++ {
		p, err := reader.NextRawPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			out.Err = err.Error()
			return out
		}
		body, err := io.ReadAll(p)
		if err != nil {
			out.Err = fmt.Sprintf("part %d: %v", i, err)
			return out
		}
		t := "text/plain"
		if h := p.Header.Get("Content-Type"); h != "" {
			mt, _, err := mime.ParseMediaType(h)
			if err != nil {
				out.Err = fmt.Sprintf("part %d: %v", i, err)
				return out
			}
			t = mt
		}
		out.Parts = append(out.Parts, part{Type: t, Body: base64.StdEncoding.EncodeToString(body)})
	}
}

func main() {
	var docs []string
	if err := json.NewDecoder(os.Stdin).Decode(&docs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	results := []result{}
	for _, d := range docs {
		doc, err := base64.StdEncoding.DecodeString(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		results = append(results, read(doc))
	}
	json.NewEncoder(os.Stdout).Encode(results)
}
