package clickhouse

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
)

// Bind writes q's arguments into its SQL as literals, the way clickhouse-go
// binds them client-side: the text a server receives. Golden tests pin it,
// and the two-engine test sends it to engines that have no Go driver (chDB).
// Only the argument types the query builders use are accepted.
func Bind(q Query) (string, error) {
	var b strings.Builder
	arg := 0
	inString := false
	for i := 0; i < len(q.SQL); i++ {
		c := q.SQL[i]
		switch {
		case inString && c == '\\' && i+1 < len(q.SQL):
			b.WriteByte(c)
			i++
			b.WriteByte(q.SQL[i])
			continue
		case c == '\'':
			inString = !inString
		case c == '?' && !inString:
			if arg >= len(q.Args) {
				return "", fmt.Errorf("clickhouse: bind: more placeholders than the %d arguments", len(q.Args))
			}
			lit, err := literal(q.Args[arg])
			if err != nil {
				return "", fmt.Errorf("clickhouse: bind argument %d: %w", arg+1, err)
			}
			b.WriteString(lit)
			arg++
			continue
		}
		b.WriteByte(c)
	}
	if arg != len(q.Args) {
		return "", fmt.Errorf("clickhouse: bind: %d placeholders for %d arguments", arg, len(q.Args))
	}
	return b.String(), nil
}

func literal(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return quote(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case time.Time:
		// Seconds since the epoch: DateTime compares with it in any zone.
		return "toDateTime(" + strconv.FormatInt(v.Unix(), 10) + ")", nil
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = quote(s)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case []int64:
		parts := make([]string, len(v))
		for i, n := range v {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case chgo.GroupSet:
		parts := make([]string, len(v.Value))
		for i, e := range v.Value {
			lit, err := literal(e)
			if err != nil {
				return "", err
			}
			parts[i] = lit
		}
		return "(" + strings.Join(parts, ", ") + ")", nil
	}
	return "", fmt.Errorf("type %T has no literal form here", v)
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
