package lock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// With LOCK_HELPER_DIR set, the test binary is a second process: it takes
// the lock, says "locked" and waits for its stdin to close (or to be killed).
func TestMain(m *testing.M) {
	if dir := os.Getenv("LOCK_HELPER_DIR"); dir != "" {
		l, err := Acquire(dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		bufio.NewReader(os.Stdin).ReadString('\n')
		l.Release()
		os.Exit(0)
	}
	if os.Getenv("LOCK_HELPER_EXIT") != "" {
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holder starts a process that holds the lock on dir.
func holder(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOCK_HELPER_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q (%v), want locked", line, err)
	}
	return cmd
}

func fileContent(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAcquireWritesThePIDAndReleaseClearsIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if got, want := fileContent(t, dir), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Errorf("lock file holds %q, want %q", got, want)
	}
	if l.StalePID() != 0 {
		t.Errorf("StalePID = %d on a fresh directory", l.StalePID())
	}
	if err := l.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if got := fileContent(t, dir); got != "" {
		t.Errorf("lock file holds %q after Release, want it empty", got)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestSecondAcquireInTheSameProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = Acquire(dir)
	var held *HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("second Acquire = %v, want a *HeldError with pid %d", err, os.Getpid())
	}
}

func TestAnotherProcessHoldingTheLockIsNamed(t *testing.T) {
	dir := t.TempDir()
	cmd := holder(t, dir)
	pid := cmd.Process.Pid

	l, err := Acquire(dir)
	if err == nil {
		l.Release()
		t.Fatal("Acquire succeeded while another process holds the lock")
	}
	if !errors.Is(err, ErrHeld) {
		t.Errorf("error %v does not match ErrHeld", err)
	}
	var held *HeldError
	if !errors.As(err, &held) || held.PID != pid {
		t.Fatalf("error %v, want a *HeldError with pid %d", err, pid)
	}
	want := fmt.Sprintf("another scalepilot (pid %d) is running on this scale set", pid)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
	// the refused attempt leaves the holder's PID in place.
	if got := fileContent(t, dir); got != strconv.Itoa(pid)+"\n" {
		t.Errorf("lock file holds %q after a refused Acquire", got)
	}
}

// A killed holder's flock goes away with it; its PID stays in the file
// and is reported as stale by the next owner.
func TestLockOfAKilledProcessIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	cmd := holder(t, dir)
	pid := cmd.Process.Pid
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after the holder died: %v", err)
	}
	defer l.Release()
	if l.StalePID() != pid {
		t.Errorf("StalePID = %d, want the dead holder's %d", l.StalePID(), pid)
	}
	if got := fileContent(t, dir); got != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q, want this process's pid", got)
	}
}

func TestPIDFileOfAGoneProcessIsTakenOver(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content func(deadPID int) string
		stale   bool
	}{
		{"dead pid", func(p int) string { return strconv.Itoa(p) + "\n" }, true},
		{"garbage", func(int) string { return "not a pid" }, false},
		{"empty", func(int) string { return "" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dead := exec.Command(os.Args[0], "-test.run=^$")
			dead.Env = append(os.Environ(), "LOCK_HELPER_EXIT=1")
			if err := dead.Run(); err != nil {
				t.Fatal(err)
			}
			pid := dead.Process.Pid
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), []byte(tc.content(pid)), 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := Acquire(dir)
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			defer l.Release()
			want := 0
			if tc.stale {
				want = pid
			}
			if l.StalePID() != want {
				t.Errorf("StalePID = %d, want %d", l.StalePID(), want)
			}
		})
	}
}

func TestAcquireFailsClearlyWhenTheDirectoryCannotBeMade(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(filepath.Join(file, "state"))
	if err == nil || errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), file) {
		t.Errorf("Acquire under a file = %v, want an error naming %s", err, file)
	}
}
