package faulttest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

var (
	full = flag.Bool("faulttest.full", false, "run the fault suite at full size")
	seed = flag.Int64("faulttest.seed", 1, "seed of the fault schedule: the moments of the kills, the down times")
)

// binDir holds the callbridge executables the suite builds.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "callbridge-faulttest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// callbridge builds the callbridge executable, with the pipeline's
// link-time mutation switch set to mutation ("" for the real thing), once
// per test binary.
func callbridge(t *testing.T, mutation string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[mutation]; ok {
		return bin
	}
	name := "callbridge"
	args := []string{"build", "-o"}
	if mutation != "" {
		name += "-" + mutation
	}
	bin := filepath.Join(binDir, name)
	args = append(args, bin)
	if mutation != "" {
		args = append(args, "-ldflags", "-X github.com/callbridge/callbridge/internal/pipeline.mutation="+mutation)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(gobin, append(args, "github.com/callbridge/callbridge/cmd/callbridge")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	built[mutation] = bin
	return bin
}

// skipRace leaves the process-level scenarios to the run without the race
// detector: under it the suite's own bookkeeping is several times slower
// (the processes under test are built without it either way).
func skipRace(t *testing.T) {
	t.Helper()
	if raceDetector {
		t.Skip("process-level scenario: .ci/test runs it without -race")
	}
}
