package apiserver

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// postTransport is gqlgen's POST transport with a cheaper way to write a
// successful response. gqlgen writes a response with json.Marshal, which
// re-scans and copies the data the executor already wrote as JSON (for a
// list of 1,000 keys, a quarter of a megabyte, twice). Here the data is
// spliced in as written; errors and extensions are still encoded by
// encoding/json. Requests the transport cannot take as a plain operation
// (unreadable body, bad JSON, a query that does not parse or validate) go
// to gqlgen's transport unchanged, so their status codes and errors are
// gqlgen's. TestPostTransportMatchesGqlgen compares the two.
type postTransport struct {
	transport.POST
}

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.fallback(w, r, exec, body)
		return
	}
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // as gqlgen decodes variables
	if err := dec.Decode(params); err != nil {
		t.fallback(w, r, exec, body)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	ctx := r.Context()
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		t.fallback(w, r, exec, body)
		return
	}
	w.Header().Set("Content-Type", responseContentType(r))
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

// fallback hands the request, body restored, to gqlgen's transport.
func (t postTransport) fallback(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.POST.Do(w, r, exec)
}

// responseContentType picks the response media type from Accept as
// gqlgen's POST transport does with its defaults.
func responseContentType(r *http.Request) string {
	const plainJSON, graphqlJSON = "application/json", "application/graphql-response+json"
	accept := r.Header.Get("Accept")
	if accept == "" {
		return plainJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", plainJSON:
			return plainJSON
		case graphqlJSON:
			return graphqlJSON
		}
	}
	return graphqlJSON
}

// writeResponse writes resp with the members and order json.Marshal gives
// graphql.Response, the data as the executor wrote it, straight from its
// buffer.
func writeResponse(w io.Writer, resp *graphql.Response) {
	var head []byte
	head = append(head, '{')
	if len(resp.Errors) > 0 {
		head = appendMember(head, "errors", resp.Errors)
		head = append(head, ',')
	}
	head = append(head, `"data":`...)
	_, _ = w.Write(head)
	if len(resp.Data) == 0 {
		_, _ = w.Write([]byte("null"))
	} else {
		_, _ = w.Write(resp.Data)
	}
	var tail []byte
	if resp.Label != "" {
		tail = appendMember(append(tail, ','), "label", resp.Label)
	}
	if len(resp.Path) > 0 {
		tail = appendMember(append(tail, ','), "path", resp.Path)
	}
	if resp.HasNext != nil {
		tail = appendMember(append(tail, ','), "hasNext", resp.HasNext)
	}
	if len(resp.Extensions) > 0 {
		tail = appendMember(append(tail, ','), "extensions", resp.Extensions)
	}
	_, _ = w.Write(append(tail, '}'))
}

// appendMember appends "name":value, value encoded by encoding/json.
func appendMember(b []byte, name string, v any) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	enc, err := json.Marshal(v)
	if err != nil {
		// The members written here always marshal; keep the answer valid anyway.
		enc = []byte("null")
	}
	return append(b, enc...)
}
