// Package storagetest starts a real S3 server for tests: versitygw, an
// S3 gateway over a directory that checks SigV4 signatures like S3 does.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wallpaperd/wallpaperd/internal/storage"
)

// startTimeout is generous on purpose: a loaded 2-core machine can take
// seconds to start a process, and this only bounds a broken start.
const startTimeout = 60 * time.Second

// StartS3 starts versitygw on a free loopback port over a temporary
// directory, with random root credentials, creates a random bucket and
// returns a config for it. The server is stopped when the test ends.
//
// The binary is $VERSITYGW_BIN, else versitygw on $PATH, else
// .tools/bin/versitygw at the module root (make tools installs it). Without
// one the test is skipped, unless REQUIRE_S3=1 (set by make test), in which
// case it fails: CI must never skip the S3 tests silently.
func StartS3(t testing.TB) storage.S3Config {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		if os.Getenv("REQUIRE_S3") == "1" {
			t.Fatalf("storagetest: REQUIRE_S3=1 but %v", err)
		}
		t.Skipf("storagetest: %v (run make tools)", err)
	}

	cfg := storage.S3Config{
		Bucket:          "test-" + randomHex(t, 8),
		Region:          "us-east-1",
		ForcePathStyle:  true,
		AccessKeyID:     "AK" + randomHex(t, 9),
		SecretAccessKey: randomHex(t, 20),
	}
	dir := t.TempDir()
	// The port is free when asked for; another process could take it
	// before versitygw binds it, so a failed start is retried.
	var lastErr error
	for range 3 {
		addr := freeAddr(t)
		cfg.Endpoint = "http://" + addr
		if lastErr = start(t, bin, addr, dir, cfg); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("storagetest: %v", lastErr)
	}
	createBucket(t, cfg)
	return cfg
}

func start(t testing.TB, bin, addr, dir string, cfg storage.S3Config) error {
	t.Helper()
	cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+cfg.AccessKeyID, "ROOT_SECRET_KEY="+cfg.SecretAccessKey)
	var stderr strings.Builder
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited at start: %v: %s", err, stderr.String())
		default:
		}
		// Any HTTP answer, even 403 for an unsigned request, means it serves.
		resp, err := http.Get(cfg.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			t.Cleanup(stop)
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("versitygw did not answer on %s within %v: %s", addr, startTimeout, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func createBucket(t testing.TB, cfg storage.S3Config) {
	t.Helper()
	client := s3.New(s3.Options{
		Region:       cfg.Region,
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &cfg.Bucket}); err != nil {
		t.Fatalf("storagetest: creating bucket %s: %v", cfg.Bucket, err)
	}
}

func findBinary() (string, error) {
	if p := os.Getenv("VERSITYGW_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("VERSITYGW_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".tools", "bin", "versitygw")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no versitygw binary: not in VERSITYGW_BIN, PATH or %s", p)
	}
	return p, nil
}

// moduleRoot walks up from the working directory (a test runs in its
// package's directory) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no versitygw binary and no go.mod above the working directory")
		}
		dir = parent
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("storagetest: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
