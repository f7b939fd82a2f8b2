package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// logBuffer is the process log's writer: lines gather in memory and reach
// the underlying writer logFlushAfter after the first of them, when
// logBufferBytes wait, at once after a warning or an error (flushHandler),
// and at exit (flushLog). The gateway's access log writes a line per call:
// written one by one that was a write syscall per call, ~4.5 µs of serve's
// CPU per call, plus a wake-up of whatever reads the log (docs/gateway.md,
// where serve's CPU goes); nginx's access_log buffer=/flush= does the same.
type logBuffer struct {
	mu        sync.Mutex
	w         *bufio.Writer
	scheduled bool // a flush is due logFlushAfter after the oldest waiting line
	after     time.Duration
}

const (
	logFlushAfter  = 100 * time.Millisecond
	logBufferBytes = 32 << 10
)

func newLogBuffer(w io.Writer, after time.Duration) *logBuffer {
	return &logBuffer{w: bufio.NewWriterSize(w, logBufferBytes), after: after}
}

// Write keeps p (one log line: slog handlers write a record at a time) and
// schedules its flush; bufio writes through when the buffer is full.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.w.Write(p)
	if !b.scheduled && b.w.Buffered() > 0 {
		b.scheduled = true
		time.AfterFunc(b.after, func() { _ = b.Flush() })
	}
	return n, err
}

// Flush writes what waits.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.scheduled = false
	return b.w.Flush()
}

// flushHandler writes warnings and errors out at once: they must not wait,
// nor be lost to a crash that follows them.
type flushHandler struct {
	slog.Handler
	buf *logBuffer
}

func (h flushHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushHandler{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushHandler) WithGroup(name string) slog.Handler {
	return flushHandler{h.Handler.WithGroup(name), h.buf}
}

// Flush writes the lines still buffered.
func (h flushHandler) Flush() error { return h.buf.Flush() }

// flushLog writes out what the default logger still buffers (at exit).
func flushLog() {
	if f, ok := slog.Default().Handler().(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
}

// logOutput is where the process log's lines go (the buffer behind slog's
// default, else stderr): lines of a child process join them there whole.
func logOutput() io.Writer {
	if h, ok := slog.Default().Handler().(flushHandler); ok {
		return h.buf
	}
	return os.Stderr
}
