package storage

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MediaPrefix is the URL path under which Local's Handler serves objects.
const MediaPrefix = "/media/"

// Local keeps objects as files in a directory on the local disk. It is the
// dev default; with several replicas, use S3.
type Local struct {
	dir     string
	baseURL string
	signKey []byte
	now     func() time.Time
}

// LocalOption adjusts a Local.
type LocalOption func(*Local)

// WithSigningKey signs the URLs of private objects with key (wallpaperd
// derives it from its secret, so they survive a restart); without it a
// random key is made, and signed URLs last as long as the process.
func WithSigningKey(key []byte) LocalOption {
	return func(l *Local) { l.signKey = key }
}

// NewLocal returns a store of files under dir (wallpaperd uses
// DATA_DIR/media) and creates dir if need be. publicBaseURL is the scheme
// and host the files are reachable at, such as "https://api.example.com";
// when it is "", URL returns a root-relative "/media/KEY" and the HTTP
// layer must make it absolute from the request it answers.
func NewLocal(dir, publicBaseURL string, opts ...LocalOption) (*Local, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("storage: creating %s: %w", dir, err)
	}
	l := &Local{dir: dir, baseURL: strings.TrimRight(publicBaseURL, "/"), now: time.Now}
	for _, o := range opts {
		o(l)
	}
	if len(l.signKey) == 0 {
		l.signKey = make([]byte, 32)
		if _, err := rand.Read(l.signKey); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
	}
	return l, nil
}

func (l *Local) path(key string) string {
	return filepath.Join(l.dir, filepath.FromSlash(key))
}

// Put writes data under key, replacing what was there. The file appears
// whole or not at all: it is written to a temporary file beside it and
// renamed over the key, so a reader never sees half an image. Local does
// not keep contentType; Handler derives it from the key's extension.
func (l *Local) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	dst := l.path(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	// Sync before rename, so that a crash cannot leave a renamed but empty
	// file behind.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	return nil
}

// Copy puts a copy of the object at from under to.
func (l *Local) Copy(ctx context.Context, from, to string) error {
	if err := ValidateKey(to); err != nil {
		return err
	}
	r, err := l.Open(ctx, from)
	if err != nil {
		return fmt.Errorf("storage: copy %s: %w", from, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("storage: copy %s: %w", from, err)
	}
	return l.Put(ctx, to, data, "")
}

// Delete removes key; a key that is not there is already deleted.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := os.Remove(l.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}

// Open returns the object under key, or ErrNotFound.
func (l *Local) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	f, err := l.openFile(key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (l *Local) openFile(key string) (*os.File, error) {
	f, err := os.Open(l.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound.With("", fmt.Errorf("storage: open %s: %w", key, err))
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: open %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, ErrNotFound.With("", fmt.Errorf("storage: open %s: not a regular file", key))
	}
	return f, nil
}

// URL returns where a client can GET key: publicBaseURL + "/media/" + key,
// or the root-relative "/media/" + key when NewLocal got no base URL. A
// private key gets a signed URL valid for an hour.
func (l *Local) URL(key string) string {
	if strings.HasPrefix(key, PrivatePrefix) {
		return l.SignedURL(key, time.Hour)
	}
	return l.baseURL + MediaPrefix + key
}

// SignedURL returns a URL of key that Handler serves until ttl has passed,
// whatever the key's prefix.
func (l *Local) SignedURL(key string, ttl time.Duration) string {
	expires := strconv.FormatInt(l.now().Add(ttl).Unix(), 10)
	return l.baseURL + MediaPrefix + key + "?expires=" + expires + "&sig=" + l.sign(key, expires)
}

func (l *Local) sign(key, expires string) string {
	m := hmac.New(sha256.New, l.signKey)
	m.Write([]byte(key + "\n" + expires))
	return hex.EncodeToString(m.Sum(nil))
}

// signedFor reports whether the request carries a valid, unexpired
// signature for key.
func (l *Local) signedFor(r *http.Request, key string) bool {
	q := r.URL.Query()
	expires, sig := q.Get("expires"), q.Get("sig")
	at, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || l.now().Unix() > at {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(l.sign(key, expires)))
}

var contentTypes = map[string]string{
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
}

// Handler serves the objects at /media/KEY (the request's full path, so
// mount it on /media/ without stripping the prefix). Only valid keys of
// regular files are served: no directory listings, no dot files, and no
// way out of the directory, however the path is encoded. A private key is
// served only with a valid signature (SignedURL); without one it does not
// exist.
func (l *Local) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// r.URL.Path is already percent-decoded, so %2e%2e arrives as ".."
		// and ValidateKey refuses it.
		key, ok := strings.CutPrefix(r.URL.Path, MediaPrefix)
		if !ok || ValidateKey(key) != nil {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(key, PrivatePrefix) && !l.signedFor(r, key) {
			http.NotFound(w, r)
			return
		}
		f, err := l.openFile(key)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		ct, ok := contentTypes[path.Ext(key)]
		if !ok {
			ct = "application/octet-stream"
		}
		h := w.Header()
		h.Set("Content-Type", ct)
		h.Set("Cache-Control", CacheControlFor(key))
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", st.ModTime(), f)
	})
}
