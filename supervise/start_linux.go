package supervise

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
)

// startAndWait starts cmd from a thread of its own at the child's niceness
// and waits for it there. Linux keeps a niceness per thread and a new
// process inherits its forking thread's, so the child and every thread it
// creates run at it from the start; setpriority on the child's pid after
// the start would reach only its main thread, racing the runtime's others.
// The thread is never unlocked, so it ends with this goroutine: the raised
// niceness cannot leak to the supervisor's other goroutines. Pdeathsig is
// sent when the forking thread ends, which is why the thread also waits.
func startAndWait(cmd *exec.Cmd, nice int, started, waited chan<- error) {
	runtime.LockOSThread()
	if syscall.Gettid() == syscall.Getpid() {
		// The main thread: the runtime parks it for good instead of ending
		// it, so fork from another. M0 stays locked to this goroutine until
		// the new one has locked its own thread, which is therefore not M0.
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			forkAndWait(cmd, nice, started, waited)
		}()
		<-locked
		runtime.UnlockOSThread()
		return
	}
	forkAndWait(cmd, nice, started, waited)
}

// forkAndWait runs on a locked thread that is not the main one.
func forkAndWait(cmd *exec.Cmd, nice int, started, waited chan<- error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Pdeathsig: syscall.SIGKILL, // the supervisor died: so does the child
		Setpgid:   true,            // a terminal's Ctrl-C reaches the supervisor, which stops the child in order
	}
	if nice > 0 {
		tid := syscall.Gettid()
		prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		if err != nil {
			started <- fmt.Errorf("getpriority: %w", err)
			return
		}
		// The raw system call answers 20 - niceness.
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-prio+nice, 19)); err != nil {
			started <- fmt.Errorf("setpriority: %w", err)
			return
		}
	}
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	waited <- cmd.Wait()
}
