package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/directus-backup/directus-backup/internal/humanize"
	"github.com/directus-backup/directus-backup/internal/job"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progressDisplay redraws one status line on a terminal and clears it
// before each log line, so the two never garble each other.
type progressDisplay struct {
	mu     sync.Mutex
	w      io.Writer
	line   func(elapsed time.Duration) string
	shown  bool
	paused bool // while a question waits for an answer
	done   chan struct{}
	once   sync.Once
	start  time.Time
}

func newProgressDisplay(w io.Writer, p *job.Progress) *progressDisplay {
	return newLineDisplay(w, func(elapsed time.Duration) string {
		step, _ := p.Step.Load().(string)
		return fmt.Sprintf("[%s] %s | dump %s | uploads %d files, %s",
			elapsed.Round(time.Second), step,
			humanize.Bytes(p.DumpBytes.Load()), p.Files.Load(), humanize.Bytes(p.FilesBytes.Load()))
	})
}

// newLineDisplay shows the line that line returns, redrawn four times a second.
func newLineDisplay(w io.Writer, line func(elapsed time.Duration) string) *progressDisplay {
	d := &progressDisplay{w: w, line: line, done: make(chan struct{}), start: time.Now()}
	go d.loop()
	return d
}

func (d *progressDisplay) loop() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-t.C:
			d.draw()
		}
	}
}

func (d *progressDisplay) draw() {
	line := d.line(time.Since(d.start))
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.paused {
		return
	}
	fmt.Fprintf(d.w, "\r\033[K%s", line)
	d.shown = true
}

// Write passes a log line through, clearing the status line first.
func (d *progressDisplay) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.shown {
		io.WriteString(d.w, "\r\033[K")
		d.shown = false
	}
	return d.w.Write(p)
}

// pause clears the line and draws nothing until resume: a question asked
// on the terminal must stay readable.
func (d *progressDisplay) pause() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.paused = true
	if d.shown {
		io.WriteString(d.w, "\r\033[K")
		d.shown = false
	}
}

func (d *progressDisplay) resume() {
	d.mu.Lock()
	d.paused = false
	d.mu.Unlock()
}

// Stop ends the display and clears its line.
func (d *progressDisplay) Stop() {
	d.once.Do(func() {
		close(d.done)
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.shown {
			io.WriteString(d.w, "\r\033[K")
			d.shown = false
		}
	})
}
