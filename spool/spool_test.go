package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustOpen(t testing.TB, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// drain reads and acknowledges every record.
func drain(t testing.TB, s *Spool) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		rec, err := s.Next()
		if errors.Is(err, ErrEmpty) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Data)
		if err := s.Ack(rec); err != nil {
			t.Fatal(err)
		}
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func rec(i int) []byte { return []byte(fmt.Sprintf("record-%03d-%s", i, strings.Repeat("x", i%7))) }

func TestFIFOAcrossSegmentsDeletesDelivered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 64, MaxBytes: 1 << 20})
	defer s.Close()
	for i := range 20 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Records != 20 || st.Segments < 5 || len(segFiles(t, dir)) != st.Segments {
		t.Fatalf("stats %+v, files %v", st, segFiles(t, dir))
	}
	// Next is a peek: the same record until acknowledged.
	a, _ := s.Next()
	b, _ := s.Next()
	if !bytes.Equal(a.Data, rec(0)) || !bytes.Equal(b.Data, rec(0)) {
		t.Fatalf("Next twice: %q, %q", a.Data, b.Data)
	}
	got := drain(t, s)
	for i, g := range got {
		if !bytes.Equal(g, rec(i)) {
			t.Fatalf("record %d: %q", i, g)
		}
	}
	if len(got) != 20 {
		t.Fatalf("%d records", len(got))
	}
	if st := s.Stats(); st.Records != 0 || st.Segments != 0 || st.Bytes != 0 {
		t.Fatalf("after drain: %+v", st)
	}
	if f := segFiles(t, dir); len(f) != 0 {
		t.Fatalf("segments left after delivery: %v", f)
	}
	// Appends after a full drain start afresh.
	if err := s.Append([]byte("again")); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s); len(got) != 1 || string(got[0]) != "again" {
		t.Fatalf("%q", got)
	}
}

func TestReopenReplaysUnacknowledged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 100})
	for i := range 10 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		r, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(r); err != nil {
			t.Fatal(err)
		}
	}
	// Handed out but not acknowledged: delivered again after a restart.
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	// No Close: the process "dies" with its files open. The lock is
	// released by Close only, so release it the way the kernel would.
	_ = s.lock.Close()

	s2 := mustOpen(t, dir, Options{SegmentBytes: 100})
	defer s2.Close()
	got := drain(t, s2)
	// Segments already deleted are gone; a partly delivered segment is
	// replayed whole (at least once).
	if len(got) < 6 || len(got) > 10 {
		t.Fatalf("replayed %d records", len(got))
	}
	off := 10 - len(got)
	for i, g := range got {
		if !bytes.Equal(g, rec(off+i)) {
			t.Fatalf("replayed record %d = %q, want %q", i, g, rec(off+i))
		}
	}
	if !bytes.Equal(got[len(got)-6], rec(4)) {
		t.Fatal("the unacknowledged records are not all there")
	}
}

func TestBoundedByBytes(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{SegmentBytes: 64, MaxBytes: 200})
	defer s.Close()
	n := 0
	for ; ; n++ {
		err := s.Append(make([]byte, 20))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Bytes > 200 || n == 0 || st.Records != n {
		t.Fatalf("bound 200: %+v after %d appends", st, n)
	}
	// Delivering the oldest segment frees room.
	for s.Stats().Segments == st.Segments {
		r, _ := s.Next()
		if err := s.Ack(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(make([]byte, 20)); err != nil {
		t.Fatalf("after delivery: %v", err)
	}
	if err := s.Append(make([]byte, 300)); err == nil {
		t.Fatal("a record larger than the spool was accepted")
	}
}

func TestOptionsAndRecordLimit(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"segment above total": {MaxBytes: 10, SegmentBytes: 20},
		"negative":            {MaxBytes: -1},
		"record above limit":  {MaxRecordBytes: maxRecLimit + 1},
	} {
		if _, err := Open(t.TempDir(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s := mustOpen(t, t.TempDir(), Options{MaxRecordBytes: 10})
	defer s.Close()
	if err := s.Append(make([]byte, 11)); err == nil || errors.Is(err, ErrFull) {
		t.Fatalf("oversized record: %v", err)
	}
	if err := s.Append(nil); err == nil {
		t.Fatal("empty record accepted")
	}
}

func TestOneProcessPerDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v", err)
	}
	_ = s.Close()
	mustOpen(t, dir, Options{}).Close()
	if err := s.Append([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

func TestForeignSegmentRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.seg"), []byte("NOTASPOOLFILE"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "not a spool segment") {
		t.Fatalf("open: %v", err)
	}
}

// writeSegment leaves a spool with the given records in one segment and
// returns the segment's path.
func writeSegment(t testing.TB, dir string, recs [][]byte) string {
	t.Helper()
	s := mustOpen(t, dir, Options{SegmentBytes: 1 << 30, MaxBytes: 1 << 30})
	for _, r := range recs {
		if err := s.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	files := segFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("want one segment, have %v", files)
	}
	return files[0]
}

func TestTornAndCorruptTails(t *testing.T) {
	t.Parallel()
	recs := [][]byte{rec(1), rec(2), rec(3)}
	whole := int64(0)
	for _, r := range recs {
		whole += frameSize + int64(len(r))
	}
	cases := map[string]struct {
		damage func(t *testing.T, path string)
		want   int
	}{
		"crash in the middle of the last record's payload": {func(t *testing.T, p string) { truncate(t, p, headerSize+whole-3) }, 2},
		"crash inside the last record's length field":      {func(t *testing.T, p string) { truncate(t, p, headerSize+whole-int64(len(recs[2]))-frameSize+2) }, 2},
		"garbage after the last record":                    {func(t *testing.T, p string) { appendBytes(t, p, []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3}) }, 3},
		"zeros after the last record (preallocated block)": {func(t *testing.T, p string) { appendBytes(t, p, make([]byte, 4096)) }, 3},
		"bit flipped in the second record":                 {func(t *testing.T, p string) { flip(t, p, headerSize+frameSize+int64(len(recs[0]))+frameSize+1) }, 1},
		"only the header survived":                         {func(t *testing.T, p string) { truncate(t, p, headerSize) }, 0},
		"header torn":                                      {func(t *testing.T, p string) { truncate(t, p, 3) }, 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := writeSegment(t, dir, recs)
			c.damage(t, path)
			s := mustOpen(t, dir, Options{})
			got := drain(t, s)
			if len(got) != c.want {
				t.Fatalf("recovered %d records, want %d", len(got), c.want)
			}
			for i := range got {
				if !bytes.Equal(got[i], recs[i]) {
					t.Fatalf("record %d = %q", i, got[i])
				}
			}
			// The spool goes on: a new record after the cut survives a reopen.
			if err := s.Append([]byte("after")); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			s = mustOpen(t, dir, Options{})
			defer s.Close()
			if got := drain(t, s); len(got) != 1 || string(got[0]) != "after" {
				t.Fatalf("after reopen: %q", got)
			}
		})
	}
}

func TestDiscardedBytesCounted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeSegment(t, dir, [][]byte{rec(1)})
	appendBytes(t, path, []byte("torn!"))
	s := mustOpen(t, dir, Options{})
	defer s.Close()
	if st := s.Stats(); st.DiscardedBytes != 5 || st.Records != 1 {
		t.Fatalf("%+v", st)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// FuzzSegmentReader opens a spool whose one segment is magic + arbitrary
// bytes: it must neither panic nor hand out a record whose checksum is
// wrong, its counts must match what it hands out, and it must stay usable.
func FuzzSegmentReader(f *testing.F) {
	good := bytes.NewBuffer([]byte(magic))
	for _, r := range [][]byte{[]byte(`{"events":[]}`), rec(5)} {
		good.Write(frame(r))
	}
	f.Add(good.Bytes()[headerSize:])
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5})
	f.Add(append(frame([]byte("a")), 3, 0, 0, 0))
	f.Fuzz(func(t *testing.T, body []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000007.seg"), append([]byte(magic), body...), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{MaxRecordBytes: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		n := s.Stats().Records
		got := drain(t, s)
		if len(got) != n {
			t.Fatalf("Stats said %d records, handed out %d", n, len(got))
		}
		// Each record handed out is a prefix frame of the body, in order.
		off := 0
		for _, g := range got {
			want := frame(g)
			if !bytes.Equal(body[off:off+len(want)], want) {
				t.Fatalf("record at %d is not the body's frame", off)
			}
			off += len(want)
		}
		if err := s.Append([]byte("next")); err != nil {
			t.Fatal(err)
		}
		if got := drain(t, s); len(got) != 1 || string(got[0]) != "next" {
			t.Fatalf("after the scan: %q", got)
		}
		_ = s.Close()
	})
}

// FuzzTornWrite writes whole records, then cuts the segment at an arbitrary
// point and adds arbitrary bytes (what a crash mid-write can leave): every
// record wholly before the cut must come back, in order.
func FuzzTornWrite(f *testing.F) {
	f.Add([]byte("one\x00two\x00three"), uint16(20), []byte{1, 2, 3})
	f.Add([]byte("a\x00b"), uint16(0), []byte{})
	f.Add([]byte("x"), uint16(1000), []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, tail []byte) {
		var recs [][]byte
		for _, r := range bytes.Split(data, []byte{0}) {
			if len(r) > 0 && len(recs) < 50 {
				recs = append(recs, r)
			}
		}
		if len(recs) == 0 {
			return // nothing written, no segment
		}
		dir := t.TempDir()
		path := writeSegment(t, dir, recs)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		size := headerSize + int64(cut)
		if size > fi.Size() {
			size = fi.Size()
		}
		truncate(t, path, size)
		appendBytes(t, path, tail)
		wholeBefore, end := 0, headerSize
		for _, r := range recs {
			end += frameSize + int64(len(r))
			if end > size {
				break
			}
			wholeBefore++
		}
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got := drain(t, s)
		if len(got) < wholeBefore {
			t.Fatalf("recovered %d records, %d were whole before the cut", len(got), wholeBefore)
		}
		for i := range wholeBefore {
			if !bytes.Equal(got[i], recs[i]) {
				t.Fatalf("record %d = %q, want %q", i, got[i], recs[i])
			}
		}
	})
}

func frame(r []byte) []byte { return appendFrame(nil, r) }

// Peek reads ahead without acknowledging: records come oldest first, from
// the oldest segment only, and are acknowledged in order; a reopened spool
// hands out again what was peeked but not acknowledged.
func TestPeekReadsAheadInOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 200, MaxBytes: 1 << 20})
	for i := range 20 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Peek(4)
	if err != nil || len(got) != 4 {
		t.Fatalf("peek 4: %d records, %v", len(got), err)
	}
	for i, r := range got {
		if !bytes.Equal(r.Data, rec(i)) {
			t.Fatalf("peeked %d: %q", i, r.Data)
		}
	}
	if next, _ := s.Next(); !bytes.Equal(next.Data, rec(0)) {
		t.Fatalf("Next after Peek: %q", next.Data)
	}
	for _, r := range got[:2] {
		if err := s.Ack(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Ack(got[3]); err == nil {
		t.Fatal("an acknowledgement out of order was taken")
	}
	seen := 2
	for {
		batch, err := s.Peek(100)
		if errors.Is(err, ErrEmpty) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if first, last := batch[0].seq, batch[len(batch)-1].seq; first != last {
			t.Fatalf("one peek crossed segments %d to %d", first, last)
		}
		for _, r := range batch {
			if !bytes.Equal(r.Data, rec(seen)) {
				t.Fatalf("record %d: %q", seen, r.Data)
			}
			if err := s.Ack(r); err != nil {
				t.Fatal(err)
			}
			seen++
		}
		if seen == 10 {
			// Peeked, not acknowledged, process gone: handed out again.
			if _, err := s.Peek(3); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s = mustOpen(t, dir, Options{SegmentBytes: 200, MaxBytes: 1 << 20})
		}
	}
	s.Close()
	if seen != 20 || len(segFiles(t, dir)) != 0 {
		t.Fatalf("%d records delivered, %d segments left", seen, len(segFiles(t, dir)))
	}
}
