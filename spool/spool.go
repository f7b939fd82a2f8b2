// Package spool is a bounded first-in-first-out queue of records on disk, for
// data that must outlive a crash until it has been delivered: the data plane
// writes the event batches it could not hand to ingest here, and sends them
// once ingest answers again.
//
// Records are appended to segment files (<dir>/<sequence>.seg), each write
// fsync'd before Append returns. A segment is deleted once every record in it
// has been acknowledged. Open replays what a previous process left: segments
// are scanned record by record, and a torn or corrupt tail (a crash mid-write,
// a bad sector) ends the segment there — the tail is cut off and counted in
// Stats.DiscardedBytes, never returned.
//
// Delivery is at least once: a record handed out by Next and delivered, whose
// Ack did not reach the disk before a crash, is handed out again after the
// restart. Records must therefore be idempotent for their receiver (event
// batches are: ingest deduplicates by event id).
//
// One process uses a directory at a time (an advisory lock on <dir>/LOCK);
// a Spool is safe for concurrent use, with one reader calling Next (or Peek,
// to read ahead) and Ack.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Segment layout: an 8-byte magic, then records, each a 4-byte little-endian
// payload length, a 4-byte CRC-32C of the payload and the payload.
const (
	magic       = "SGSPOOL1"
	headerSize  = int64(len(magic))
	frameSize   = 8
	segSuffix   = ".seg"
	lockName    = "LOCK"
	defaultSeg  = 8 << 20
	defaultMax  = 1 << 30
	maxRecLimit = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrFull is returned by Append when the record would take the spool
	// past Options.MaxBytes.
	ErrFull = errors.New("spool: full")
	// ErrEmpty is returned by Next when every record has been acknowledged.
	ErrEmpty = errors.New("spool: empty")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("spool: closed")
)

// Options bound a spool. Zero values take the defaults.
type Options struct {
	// MaxBytes bounds the segment files together (headers and framing
	// included); Append beyond it fails with ErrFull. Default 1 GiB.
	MaxBytes int64
	// SegmentBytes is the size at which the next append starts a new
	// segment, so delivered data is freed in pieces. Default 8 MiB.
	SegmentBytes int64
	// MaxRecordBytes bounds one record (and what a scan believes a length
	// field). Default and upper limit 64 MiB.
	MaxRecordBytes int
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxBytes == 0 {
		o.MaxBytes = defaultMax
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = defaultSeg
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = maxRecLimit
	}
	switch {
	case o.MaxBytes < 0 || o.SegmentBytes < 0 || o.MaxRecordBytes < 0:
		return o, errors.New("spool: negative bound")
	case o.MaxRecordBytes > maxRecLimit:
		return o, fmt.Errorf("spool: MaxRecordBytes above %d", maxRecLimit)
	case o.SegmentBytes > o.MaxBytes:
		return o, fmt.Errorf("spool: SegmentBytes (%d) above MaxBytes (%d)", o.SegmentBytes, o.MaxBytes)
	}
	return o, nil
}

// Stats describe a spool's content.
type Stats struct {
	Records  int   // appended, not yet acknowledged
	Bytes    int64 // segment files on disk, framing included
	Segments int
	// DiscardedBytes were cut off torn or corrupt segment tails at Open.
	DiscardedBytes int64
}

// Record is one record handed out by Next; Ack it once delivered.
type Record struct {
	Data []byte
	seq  uint64
	off  int64
	end  int64
}

type segment struct {
	seq     uint64
	size    int64 // valid bytes: header and whole records
	records int   // whole records from the reader's offset on
}

// Spool is an open spool directory.
type Spool struct {
	dir  string
	opts Options
	lock io.Closer

	mu     sync.Mutex
	closed bool
	segs   []*segment // oldest first
	w      *os.File   // the last segment, while appends go to it
	r      *os.File   // the first segment, opened for reading
	rseq   uint64     // sequence r belongs to
	roff   int64      // offset of the first unacknowledged record in segs[0]
	next   uint64     // sequence of the next segment
	bytes  int64
	nrec   int
	cut    int64
	buf    []byte
}

// Open opens (creating it if needed) the spool in dir, scanning what earlier
// processes left there.
func Open(dir string, opts Options) (*Spool, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, opts: opts, lock: lock}
	if err := s.load(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	return s, nil
}

// load scans the segments in sequence order.
func (s *Spool) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var seqs []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		seq, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue // not ours
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		seg, cut, err := s.scan(seq)
		if err != nil {
			return err
		}
		s.cut += cut
		if seg == nil {
			continue
		}
		s.segs = append(s.segs, seg)
		s.next = seq + 1
		s.bytes += seg.size
		s.nrec += seg.records
	}
	s.roff = headerSize
	return nil
}

// scan validates one segment, cutting off a torn or corrupt tail. It
// returns nil for a segment without records (removed) and the bytes cut.
func (s *Spool) scan(seq uint64) (*segment, int64, error) {
	path := s.path(seq)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("spool: %w", err)
	}
	size := fi.Size()
	if size >= headerSize {
		var h [headerSize]byte
		if _, err := f.ReadAt(h[:], 0); err != nil {
			return nil, 0, fmt.Errorf("spool: %s: %w", path, err)
		}
		if string(h[:]) != magic {
			return nil, 0, fmt.Errorf("spool: %s is not a spool segment (wrong magic); move it away", path)
		}
	}
	valid, records, err := scanRecords(f, size, s.opts.MaxRecordBytes)
	if err != nil {
		return nil, 0, fmt.Errorf("spool: %s: %w", path, err)
	}
	if records == 0 {
		// A segment created by a crashed process before its first record
		// reached the disk, or one whose every record was corrupt.
		if err := os.Remove(path); err != nil {
			return nil, 0, fmt.Errorf("spool: %w", err)
		}
		return nil, size - min(size, headerSize), nil
	}
	if valid < size {
		if err := f.Truncate(valid); err != nil {
			return nil, 0, fmt.Errorf("spool: cutting the torn tail of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, 0, fmt.Errorf("spool: %w", err)
		}
	}
	return &segment{seq: seq, size: valid, records: records}, size - valid, nil
}

// scanRecords reads the records of a segment of the given size after its
// header and returns where the last whole, checksummed record ends.
func scanRecords(r io.ReaderAt, size int64, maxRecord int) (valid int64, records int, err error) {
	valid = headerSize
	var frame [frameSize]byte
	var payload []byte
	for valid+frameSize <= size {
		if _, err := r.ReadAt(frame[:], valid); err != nil {
			return 0, 0, err
		}
		n := int64(binary.LittleEndian.Uint32(frame[0:4]))
		if n == 0 || n > int64(maxRecord) || valid+frameSize+n > size {
			break // a torn length, zeros of a preallocated block, or garbage
		}
		if int64(cap(payload)) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := r.ReadAt(payload, valid+frameSize); err != nil {
			return 0, 0, err
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(frame[4:8]) {
			break
		}
		valid += frameSize + n
		records++
	}
	return valid, records, nil
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, segSuffix))
}

// Append writes data as one record and returns once it is on disk.
// Empty records are refused: zeros are what a file grown but not written
// reads as, so a scan takes them for the end.
func (s *Spool) Append(data []byte) error {
	if len(data) == 0 {
		return errors.New("spool: empty record")
	}
	if len(data) > s.opts.MaxRecordBytes {
		return fmt.Errorf("spool: record of %d bytes above the %d-byte limit", len(data), s.opts.MaxRecordBytes)
	}
	need := frameSize + int64(len(data))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	roll := s.w == nil || s.segs[len(s.segs)-1].size+need > s.opts.SegmentBytes
	total := s.bytes + need
	if roll {
		total += headerSize
	}
	if total > s.opts.MaxBytes {
		return ErrFull
	}
	if roll {
		if err := s.roll(); err != nil {
			return err
		}
	}
	seg := s.segs[len(s.segs)-1]
	s.buf = appendFrame(s.buf[:0], data)
	if _, err := s.w.WriteAt(s.buf, seg.size); err != nil {
		s.abandonWriter(seg)
		return fmt.Errorf("spool: %w", err)
	}
	if err := s.w.Sync(); err != nil {
		s.abandonWriter(seg)
		return fmt.Errorf("spool: %w", err)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep one large record's buffer forever
	}
	seg.size += need
	seg.records++
	s.bytes += need
	s.nrec++
	return nil
}

// appendFrame appends data as a record: length, checksum, payload.
func appendFrame(dst, data []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(data, castagnoli))
	return append(dst, data...)
}

// abandonWriter stops appending to a segment whose write failed: what may
// have reached the disk past its known size is never read (the reader
// trusts sizes in memory) and is cut off as a torn tail by the next Open.
func (s *Spool) abandonWriter(seg *segment) {
	_ = s.w.Truncate(seg.size)
	_ = s.w.Close()
	s.w = nil
}

// roll starts a new segment for appends.
func (s *Spool) roll() error {
	if s.w != nil {
		_ = s.w.Close()
		s.w = nil
	}
	seq := max(s.next, 1)
	f, err := os.OpenFile(s.path(seq), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err = f.Write([]byte(magic)); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(s.dir) // the new name survives a crash
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(s.path(seq))
		return fmt.Errorf("spool: %w", err)
	}
	s.w, s.next = f, seq+1
	s.segs = append(s.segs, &segment{seq: seq, size: headerSize})
	s.bytes += headerSize
	if len(s.segs) == 1 {
		s.roff = headerSize
	}
	return nil
}

// Next returns the oldest record not yet acknowledged (the same one until
// it is), or ErrEmpty.
func (s *Spool) Next() (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readAt(s.roff)
}

// Peek returns up to n of the oldest records not yet acknowledged, oldest
// first, all from the oldest segment (so possibly fewer than n while more
// wait in later ones), or ErrEmpty. Ack them in the order given; Next
// returns the first of them again until it is.
func (s *Spool) Peek(n int) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	off := s.roff
	for len(out) < n && len(s.segs) > 0 && len(out) < s.segs[0].records {
		rec, err := s.readAt(off)
		if err != nil {
			if len(out) > 0 {
				return out, nil // the rest waits for a later call
			}
			return nil, err
		}
		out = append(out, rec)
		off = rec.end
	}
	if len(out) == 0 {
		return s.readErr()
	}
	return out, nil
}

// readErr is what reading an empty or closed spool returns.
func (s *Spool) readErr() ([]Record, error) {
	if s.closed {
		return nil, ErrClosed
	}
	return nil, ErrEmpty
}

// readAt reads the record at off in the oldest segment.
func (s *Spool) readAt(off int64) (Record, error) {
	if s.closed {
		return Record{}, ErrClosed
	}
	if len(s.segs) == 0 || s.segs[0].records == 0 {
		return Record{}, ErrEmpty
	}
	seg := s.segs[0]
	if s.r == nil || s.rseq != seg.seq {
		if s.r != nil {
			_ = s.r.Close()
		}
		f, err := os.Open(s.path(seg.seq))
		if err != nil {
			s.r = nil
			return Record{}, fmt.Errorf("spool: %w", err)
		}
		s.r, s.rseq = f, seg.seq
	}
	var frame [frameSize]byte
	if _, err := s.r.ReadAt(frame[:], off); err != nil {
		return Record{}, fmt.Errorf("spool: %w", err)
	}
	n := int64(binary.LittleEndian.Uint32(frame[0:4]))
	end := off + frameSize + n
	if end > seg.size {
		return Record{}, fmt.Errorf("spool: segment %d: record at %d runs past the segment's end", seg.seq, off)
	}
	data := make([]byte, n)
	if _, err := s.r.ReadAt(data, off+frameSize); err != nil {
		return Record{}, fmt.Errorf("spool: %w", err)
	}
	if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(frame[4:8]) {
		// Written whole and checksummed, now unreadable: the disk lost it.
		return Record{}, fmt.Errorf("spool: segment %d: record at %d changed on disk (checksum)", seg.seq, off)
	}
	return Record{Data: data, seq: seg.seq, off: off, end: end}, nil
}

// Ack removes the record Next returned. A segment is deleted once all its
// records are acknowledged.
func (s *Spool) Ack(rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(s.segs) == 0 || rec.seq != s.segs[0].seq || rec.off != s.roff || rec.end == 0 {
		return errors.New("spool: Ack of a record that is not the one Next returned")
	}
	seg := s.segs[0]
	s.roff = rec.end
	seg.records--
	s.nrec--
	if seg.records > 0 {
		return nil
	}
	// Every record of the oldest segment is delivered: free it.
	if s.r != nil {
		_ = s.r.Close()
		s.r = nil
	}
	if len(s.segs) == 1 && s.w != nil {
		_ = s.w.Close()
		s.w = nil
	}
	if err := os.Remove(s.path(seg.seq)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.bytes -= seg.size
	s.segs = s.segs[1:]
	s.roff = headerSize
	// Without a directory sync a crash may bring the file back: its records
	// are then delivered again, which receivers tolerate.
	_ = syncDir(s.dir)
	return nil
}

// Stats returns the spool's current content.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Records: s.nrec, Bytes: s.bytes, Segments: len(s.segs), DiscardedBytes: s.cut}
}

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Close releases the files and the directory lock; records stay on disk.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.w != nil {
		_ = s.w.Close()
	}
	if s.r != nil {
		_ = s.r.Close()
	}
	return s.lock.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
