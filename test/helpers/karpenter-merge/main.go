// Merges an EC2NodeClass userData the way Karpenter's AL2023 family does before it writes the launch template,
// for test/writers/render-userdata-karpenter-merge.test.ts. Written from aws/karpenter-provider-aws at 1d927085
// (not copied): pkg/providers/amifamily/bootstrap/nodeadm.go and bootstrap/mime/mime.go.
//   - The userData is taken for MIME only when, trimmed, it starts with "MIME-Version:" or "Content-Type:".
//     Anything else becomes one part of Karpenter's own making; this program then answers {"mime": false}.
//   - Its parts are read with net/mail and mime/multipart's NextPart; only each part's Content-Type is kept.
//   - Karpenter's own NodeConfig part (given) is appended last.
//   - Everything is written again with mime/multipart.Writer and the fixed boundary "//", after the headers
//     "MIME-Version: 1.0" and the multipart Content-Type, and every CR of the result is removed.
//
// Input on stdin: a JSON list of {"userData","karpenterPart"}, both base64. Output: one
// {"mime","merged"(base64),"err"} per input.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"os"
	"strings"
)

type input struct {
	UserData      string `json:"userData"`
	KarpenterPart string `json:"karpenterPart"`
}

type output struct {
	Mime   bool   `json:"mime"`
	Merged string `json:"merged,omitempty"`
	Err    string `json:"err,omitempty"`
}

type entry struct {
	contentType string
	content     string
}

func readParts(userData string) ([]entry, error) {
	msg, err := mail.ReadMessage(strings.NewReader(userData))
	if err != nil {
		return nil, err
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("no Content-Type header: %w", err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		return nil, fmt.Errorf("not multipart")
	}
	reader := multipart.NewReader(msg.Body, params["boundary"])
	var entries []entry
	for {
		part, err := reader.NextPart()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(part)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{part.Header.Get("Content-Type"), string(body)})
	}
}

func merge(userData, karpenterPart string) output {
	trimmed := strings.TrimSpace(userData)
	if !strings.HasPrefix(trimmed, "MIME-Version:") && !strings.HasPrefix(trimmed, "Content-Type:") {
		return output{Mime: false}
	}
	entries, err := readParts(userData)
	if err != nil {
		return output{Mime: true, Err: err.Error()}
	}
	entries = append(entries, entry{"application/node.eks.aws", karpenterPart})
	var buf bytes.Buffer
	writer := multipart.NewWriter(&buf)
	if err := writer.SetBoundary("//"); err != nil {
		return output{Mime: true, Err: err.Error()}
	}
	buf.WriteString("MIME-Version: 1.0\n")
	buf.WriteString("Content-Type: multipart/mixed; boundary=\"//\"\n\n")
	for _, e := range entries {
		w, err := writer.CreatePart(textproto.MIMEHeader{"Content-Type": {e.contentType}})
		if err != nil {
			return output{Mime: true, Err: err.Error()}
		}
		if _, err := w.Write([]byte(e.content)); err != nil {
			return output{Mime: true, Err: err.Error()}
		}
	}
	if err := writer.Close(); err != nil {
		return output{Mime: true, Err: err.Error()}
	}
	merged := strings.ReplaceAll(buf.String(), "\r", "")
	return output{Mime: true, Merged: base64.StdEncoding.EncodeToString([]byte(merged))}
}

func main() {
	var inputs []input
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	outputs := []output{}
	for _, in := range inputs {
		userData, err1 := base64.StdEncoding.DecodeString(in.UserData)
		own, err2 := base64.StdEncoding.DecodeString(in.KarpenterPart)
		if err1 != nil || err2 != nil {
			fmt.Fprintln(os.Stderr, "input is not base64")
			os.Exit(2)
		}
		outputs = append(outputs, merge(string(userData), string(own)))
	}
	if err := json.NewEncoder(os.Stdout).Encode(outputs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
