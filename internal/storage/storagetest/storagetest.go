// Package storagetest starts a real S3 server for tests: versitygw, an
// S3 gateway over a directory that checks SigV4 signatures like S3 does.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// startTimeout is generous on purpose: a loaded 2-core machine can take
// seconds to start a process, and this only bounds a broken start.
const startTimeout = 60 * time.Second

// Server is a running versitygw over a temporary directory, with random
// root credentials and one bucket. It can be stopped (as a crash or a
// network cut would) and started again on the same address and directory.
type Server struct {
	// Config reaches the bucket.
	Config storage.S3Config

	bin, addr, dir string
	mu             sync.Mutex
	cmd            *exec.Cmd
	exited         chan struct{}
}

// StartS3 starts a server and returns the config of its bucket.
func StartS3(t testing.TB) storage.S3Config {
	t.Helper()
	return Start(t).Config
}

// Start starts versitygw on a free loopback port and creates a random
// bucket; the server is stopped when the test ends.
//
// The binary is $VERSITYGW_BIN, else versitygw on $PATH, else
// .tools/bin/versitygw (make tools installs it). Without one the test is
// skipped, unless REQUIRE_S3=1 (set by make test): then it fails.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		bin: testenv.Program(t, "versitygw", "REQUIRE_S3", ".tools/bin/versitygw"),
		dir: t.TempDir(),
		Config: storage.S3Config{
			Bucket:          "test-" + randomHex(t, 8),
			Region:          "us-east-1",
			ForcePathStyle:  true,
			AccessKeyID:     "AK" + randomHex(t, 9),
			SecretAccessKey: randomHex(t, 20),
		},
	}
	t.Cleanup(s.Stop)
	// The port is free when asked for; another process could take it
	// before versitygw binds it, so a failed start is retried.
	var err error
	for range 3 {
		s.addr = testenv.FreeAddr(t)
		s.Config.Endpoint = "http://" + s.addr
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.Config.Bucket}); err != nil {
		t.Fatalf("storagetest: creating bucket %s: %v", s.Config.Bucket, err)
	}
	return s
}

// Restart starts the stopped server again, on the same address over the
// same directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("storagetest: %v", err)
	}
}

// Stop kills the server; it is a no-op when it is not running.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Client is an S3 client with the server's root credentials.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Config.Region,
		BaseEndpoint: aws.String(s.Config.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.Config.AccessKeyID, s.Config.SecretAccessKey, ""),
	})
}

// Exists says whether key is in the bucket.
func (s *Server) Exists(t testing.TB, key string) bool {
	t.Helper()
	_, err := s.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &s.Config.Bucket, Key: &key})
	return err == nil
}

// AllowAnonymousGet lets anyone GET the objects under prefix without a
// signature, as a bucket policy granting s3:GetObject to "*" on
// BUCKET/PREFIX* does on AWS (what an operator sets up for a CDN or for
// S3_PUBLIC_BASE_URL on the bucket itself), and returns the bucket's
// unsigned base URL (path style). Other keys still need a signature.
func (s *Server) AllowAnonymousGet(t testing.TB, prefix string) string {
	t.Helper()
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",`+
		`"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/%s*"}]}`, s.Config.Bucket, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := s.Client().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &s.Config.Bucket, Policy: &policy}); err != nil {
		t.Fatalf("storagetest: bucket policy for anonymous GET of %s*: %v", prefix, err)
	}
	return s.Config.Endpoint + "/" + s.Config.Bucket
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command(s.bin, "--port", s.addr, "--quiet", "posix", s.dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.Config.AccessKeyID, "ROOT_SECRET_KEY="+s.Config.SecretAccessKey)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	deadline := time.Now().Add(startTimeout)
	for {
		// Any HTTP answer, even 403 for an unsigned request, means it serves.
		resp, err := http.Get(s.Config.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			s.cmd, s.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited at start: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("versitygw did not answer on %s within %v: %s", s.addr, startTimeout, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
