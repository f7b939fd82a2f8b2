package graph

// Large analytics answers written in one pass.
//
// A spendTimeSeries answer by team over 90 days hourly is ~17 K points.
// gqlgen's executor spends, per point, a goroutine (every list of objects is
// marshalled concurrently), a field context, a context value and a closure
// per field and a map per object, then writes the JSON in small pieces: at
// 17 K points that took most of the request's time, ClickHouse the rest (see
// docs/analytics.md, "Large answers"). For the two answers that grow with
// the data (spendTimeSeries, spendBreakdown) WriteLargeAnswers writes the
// JSON of the query's selection set itself, once the resolver succeeded.
// gqlgen still does everything else: parsing, validation, limits, argument
// coercion, calling the resolver, errors and extensions; and the bytes are
// the same as gqlgen's (answer_writer_test.go compares them on real answers).
//
// The hand-off: the middleware puts an answerSlot in the resolver's
// context; the resolver converts its answer as always and, when the slot's
// plan can write it, leaves it there and returns an empty answer for gqlgen
// to marshal. Anything the plan cannot write exactly (a @defer, a field it
// does not know, a value gqlgen would turn into an error) goes gqlgen's way.

import (
	"context"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/spendgate/spendgate/graph/model"
	"github.com/spendgate/spendgate/graph/scalar"
	"github.com/spendgate/spendgate/money"
)

// WriteLargeAnswers is a root-field middleware (handler.Server's
// AroundRootFields) that writes spendTimeSeries and spendBreakdown answers
// in one pass; other fields pass through.
func WriteLargeAnswers(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return next(ctx)
	}
	slot := &answerSlot{}
	var ok bool
	switch fc.Field.Name {
	case "spendTimeSeries":
		slot.point, ok = planObject(oc, fc.Field.Selections, "SpendPoint")
	case "spendBreakdown":
		slot.breakdown, ok = planObject(oc, fc.Field.Selections, "SpendBreakdown")
	}
	if !ok {
		return next(ctx)
	}
	m := next(context.WithValue(ctx, answerSlotKey{}, slot))
	if !slot.taken || m == graphql.Null {
		return m
	}
	return graphql.WriterFunc(func(w io.Writer) {
		jw := jsonWriter{w: w, buf: make([]byte, 0, 64<<10)}
		if slot.points != nil {
			jw.buf = append(jw.buf, '[')
			for i, p := range slot.points {
				if i > 0 {
					jw.buf = append(jw.buf, ',')
				}
				jw.point(slot.point, p)
			}
			jw.buf = append(jw.buf, ']')
		} else {
			jw.breakdown(slot.breakdown, slot.result)
		}
		jw.flush()
	})
}

type answerSlotKey struct{}

// answerSlot carries the plan to the resolver and its answer back.
type answerSlot struct {
	point, breakdown *objectPlan
	taken            bool
	points           []*model.SpendPoint
	result           *model.SpendBreakdown
}

func slotFrom(ctx context.Context) *answerSlot {
	s, _ := ctx.Value(answerSlotKey{}).(*answerSlot)
	return s
}

// takePoints keeps pts for the middleware to write, when it can write
// them exactly as gqlgen would.
func (s *answerSlot) takePoints(pts []*model.SpendPoint) bool {
	if s == nil || s.point == nil {
		return false
	}
	for _, p := range pts {
		if !s.point.pointFits(p) {
			return false
		}
	}
	s.points, s.taken = pts, true
	return true
}

// takeBreakdown keeps b for the middleware to write, when it can.
func (s *answerSlot) takeBreakdown(b *model.SpendBreakdown) bool {
	if s == nil || s.breakdown == nil || !s.breakdown.breakdownFits(b) {
		return false
	}
	s.result, s.taken = b, true
	return true
}

// objectFields are the fields the writer knows per object type, each
// with the object type of its value ("" for scalars and lists of scalars).
var objectFields = map[string]map[string]string{
	"SpendPoint":     {"start": "", "keys": "", "labels": "", "totals": "SpendTotals"},
	"SpendGroup":     {"keys": "", "labels": "", "totals": "SpendTotals"},
	"SpendBreakdown": {"groupBy": "", "groups": "SpendGroup", "other": "SpendTotals", "total": "SpendTotals"},
	"SpendTotals": {"requests": "", "unpricedRequests": "", "listCost": "", "tenantCost": "", "inputTokens": "",
		"outputTokens": ""},
}

// objectPlan is an object's selection, collected once per answer: the
// fields in gqlgen's order, each with its JSON key already written.
type objectPlan struct {
	typeName string
	fields   []plannedField
}

type plannedField struct {
	name string
	key  []byte // `"alias":`
	sub  *objectPlan
}

// planObject collects sel on typeName as gqlgen does (fragments, @skip,
// @include, aliases); ok is false for anything the writer does not know.
func planObject(oc *graphql.OperationContext, sel ast.SelectionSet, typeName string) (*objectPlan, bool) {
	known := objectFields[typeName]
	p := &objectPlan{typeName: typeName}
	seen := map[string]bool{}
	for _, f := range graphql.CollectFields(oc, sel, []string{typeName}) {
		if len(f.Deferrables) > 0 {
			return nil, false
		}
		if seen[f.Alias] { // gqlgen writes an alias once
			continue
		}
		seen[f.Alias] = true
		pf := plannedField{name: f.Name, key: append(appendQuoted(nil, f.Alias), ':')}
		if f.Name != "__typename" {
			sub, ok := known[f.Name]
			if !ok {
				return nil, false
			}
			if sub != "" {
				if pf.sub, ok = planObject(oc, f.Selections, sub); !ok {
					return nil, false
				}
			}
		}
		p.fields = append(p.fields, pf)
	}
	return p, true
}

// The fits methods report whether a value is written exactly as gqlgen
// would: gqlgen answers a zero Time or a nil non-null object with an
// error, which only gqlgen writes.

func (p *objectPlan) pointFits(v *model.SpendPoint) bool {
	if v == nil {
		return false
	}
	for _, f := range p.fields {
		switch f.name {
		case "start":
			if v.Start.IsZero() {
				return false
			}
		case "totals":
			if v.Totals == nil {
				return false
			}
		}
	}
	return true
}

func (p *objectPlan) breakdownFits(v *model.SpendBreakdown) bool {
	if v == nil {
		return false
	}
	for _, f := range p.fields {
		switch f.name {
		case "groups":
			for _, g := range v.Groups {
				if !f.sub.groupFits(g) {
					return false
				}
			}
		case "total":
			if v.Total == nil {
				return false
			}
		}
	}
	return true
}

func (p *objectPlan) groupFits(v *model.SpendGroup) bool {
	if v == nil {
		return false
	}
	for _, f := range p.fields {
		if f.name == "totals" && v.Totals == nil {
			return false
		}
	}
	return true
}

// jsonWriter appends to a buffer and hands it to w in large pieces.
type jsonWriter struct {
	w   io.Writer
	buf []byte
}

func (j *jsonWriter) flush() {
	_, _ = j.w.Write(j.buf)
	j.buf = j.buf[:0]
}

// field starts field i of an object.
func (j *jsonWriter) field(i int, f *plannedField) {
	if i > 0 {
		j.buf = append(j.buf, ',')
	}
	j.buf = append(j.buf, f.key...)
}

func (j *jsonWriter) end() {
	j.buf = append(j.buf, '}')
	if len(j.buf) >= 32<<10 {
		j.flush()
	}
}

func (j *jsonWriter) point(p *objectPlan, v *model.SpendPoint) {
	j.buf = append(j.buf, '{')
	for i := range p.fields {
		f := &p.fields[i]
		j.field(i, f)
		switch f.name {
		case "__typename":
			j.buf = appendQuoted(j.buf, p.typeName)
		case "start":
			// graphql.MarshalTime: strconv.Quote of RFC 3339 with
			// nanoseconds, which holds nothing to escape.
			j.buf = append(j.buf, '"')
			j.buf = v.Start.AppendFormat(j.buf, time.RFC3339Nano)
			j.buf = append(j.buf, '"')
		case "keys":
			j.strings(v.Keys)
		case "labels":
			j.strings(v.Labels)
		case "totals":
			j.totals(f.sub, v.Totals)
		}
	}
	j.end()
}

func (j *jsonWriter) breakdown(p *objectPlan, v *model.SpendBreakdown) {
	j.buf = append(j.buf, '{')
	for i := range p.fields {
		f := &p.fields[i]
		j.field(i, f)
		switch f.name {
		case "__typename":
			j.buf = appendQuoted(j.buf, p.typeName)
		case "groupBy":
			j.strings(v.GroupBy)
		case "groups":
			j.buf = append(j.buf, '[')
			for k, g := range v.Groups {
				if k > 0 {
					j.buf = append(j.buf, ',')
				}
				j.group(f.sub, g)
			}
			j.buf = append(j.buf, ']')
		case "other":
			if v.Other == nil {
				j.buf = append(j.buf, "null"...)
			} else {
				j.totals(f.sub, v.Other)
			}
		case "total":
			j.totals(f.sub, v.Total)
		}
	}
	j.end()
}

func (j *jsonWriter) group(p *objectPlan, v *model.SpendGroup) {
	j.buf = append(j.buf, '{')
	for i := range p.fields {
		f := &p.fields[i]
		j.field(i, f)
		switch f.name {
		case "__typename":
			j.buf = appendQuoted(j.buf, p.typeName)
		case "keys":
			j.strings(v.Keys)
		case "labels":
			j.strings(v.Labels)
		case "totals":
			j.totals(f.sub, v.Totals)
		}
	}
	j.end()
}

func (j *jsonWriter) totals(p *objectPlan, v *model.SpendTotals) {
	j.buf = append(j.buf, '{')
	for i := range p.fields {
		f := &p.fields[i]
		j.field(i, f)
		switch f.name {
		case "__typename":
			j.buf = appendQuoted(j.buf, p.typeName)
		case "requests":
			j.buf = strconv.AppendInt(j.buf, v.Requests, 10)
		case "unpricedRequests":
			j.buf = strconv.AppendInt(j.buf, v.UnpricedRequests, 10)
		case "listCost":
			j.money(v.ListCost)
		case "tenantCost":
			j.money(v.TenantCost)
		case "inputTokens":
			j.buf = strconv.AppendInt(j.buf, v.InputTokens, 10)
		case "outputTokens":
			j.buf = strconv.AppendInt(j.buf, v.OutputTokens, 10)
		}
	}
	j.end()
}

// money writes as scalar.Money's MarshalGQL does: a quoted decimal, with
// nothing to escape.
func (j *jsonWriter) money(m scalar.Money) {
	j.buf = append(j.buf, '"')
	j.buf = append(j.buf, money.FormatNano(int64(m))...)
	j.buf = append(j.buf, '"')
}

// strings writes a [String!]! (nil as [], as gqlgen does).
func (j *jsonWriter) strings(ss []string) {
	j.buf = append(j.buf, '[')
	for k, s := range ss {
		if k > 0 {
			j.buf = append(j.buf, ',')
		}
		j.buf = appendQuoted(j.buf, s)
	}
	j.buf = append(j.buf, ']')
}

// hexDigits are gqlgen's (upper case).
const hexDigits = "0123456789ABCDEF"

// appendQuoted writes s as gqlgen's graphql.MarshalString does: control
// characters, backslash and quote escaped, everything else (invalid UTF-8
// too) as it is.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf || (c >= 0x20 && c != '\\' && c != '"') {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
