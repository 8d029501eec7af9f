package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Defaults of S3Config.
const (
	DefaultCallTimeout   = 30 * time.Second
	DefaultPresignExpiry = 24 * time.Hour
)

// S3Config says which bucket S3 uses and how to reach it.
type S3Config struct {
	Bucket string
	Region string
	// Endpoint is the base URL of an S3-compatible server (MinIO, R2, COS,
	// versitygw); empty for AWS itself.
	Endpoint string
	// ForcePathStyle puts the bucket in the path (host/bucket/key) rather
	// than in the host name; most S3-compatible servers need it.
	ForcePathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials; when empty,
	// the SDK's default chain (environment, shared files, instance role)
	// provides them.
	AccessKeyID     string
	SecretAccessKey string
	// PublicBaseURL, when set, is where the bucket's objects are public
	// (a CDN): URL returns PublicBaseURL/KEY. Otherwise URL presigns a GET.
	PublicBaseURL string
	// CallTimeout bounds each call to the server on top of the caller's
	// context; DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// PresignExpiry is how long a presigned URL stays valid;
	// DefaultPresignExpiry when zero.
	PresignExpiry time.Duration
	// Logger hears of URLs that could not be presigned; nil: discarded.
	Logger *slog.Logger
}

// S3 keeps objects in an S3 bucket.
type S3 struct {
	client   *s3.Client
	uploader *manager.Uploader
	presign  *s3.PresignClient // hourly-stable URLs of public objects
	exact    *s3.PresignClient // URLs valid for exactly the asked time
	cfg      S3Config
}

// NewS3 returns a store for cfg.Bucket. It does not contact the server
// (a replica should start while storage is briefly down); Check does.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("storage: S3 needs a bucket")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.PresignExpiry <= 0 {
		cfg.PresignExpiry = DefaultPresignExpiry
	}
	cfg.PublicBaseURL = strings.TrimRight(cfg.PublicBaseURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region)}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage: loading the AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.ForcePathStyle
		// Newer SDKs add CRC checksums to every upload by default, which
		// several S3-compatible servers reject; S3 itself does not need them.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &S3{
		client:   client,
		uploader: newUploader(client),
		presign: s3.NewPresignClient(client, func(o *s3.PresignOptions) {
			o.Expires = cfg.PresignExpiry
			o.Presigner = hourlySigner{v4.NewSigner(func(so *v4.SignerOptions) {
				so.DisableURIPathEscaping = true // as the SDK's own S3 presigner
			})}
		}),
		exact: s3.NewPresignClient(client),
		cfg:   cfg,
	}, nil
}

// hourlySigner signs as of the start of the current hour, so that the
// same key gets the same URL for an hour and clients can cache the image
// by URL. The URL then stays valid for between Expiry-1h and Expiry.
type hourlySigner struct{ signer *v4.Signer }

func (h hourlySigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return h.signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, signingTime.UTC().Truncate(time.Hour), optFns...)
}

// Check asks the server whether the bucket exists and is ours to use, for
// start-up and readiness checks.
func (s *S3) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket}); err != nil {
		return fmt.Errorf("storage: checking bucket %s: %w", s.cfg.Bucket, err)
	}
	return nil
}

// newUploader returns the stack's uploader: one PutObject for an image,
// multipart for anything over 16 MiB.
func newUploader(client *s3.Client) *manager.Uploader {
	return manager.NewUploader(client, func(u *manager.Uploader) { u.PartSize = 16 << 20 })
}

// Put uploads data under key, replacing what was there. The body is a
// bytes.Reader: seekable, which the SDK needs to sign the payload over
// plain HTTP.
func (s *S3) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	in := &s3.PutObjectInput{
		Bucket:       &s.cfg.Bucket,
		Key:          &key,
		Body:         bytes.NewReader(data),
		CacheControl: aws.String(CacheControlFor(key)),
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	_, err := s.uploader.Upload(ctx, in)
	if err != nil {
		return unavailable(fmt.Errorf("storage: put %s: %w", key, err))
	}
	return nil
}

// Delete removes key; a key that is not there is already deleted.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err != nil && !isNotFound(err) {
		return unavailable(fmt.Errorf("storage: delete %s: %w", key, err))
	}
	return nil
}

// Open returns the object under key, or ErrNotFound. The per-call timeout
// covers reading the body too; Close releases it.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err != nil {
		cancel()
		if isNotFound(err) {
			return nil, ErrNotFound.With("", fmt.Errorf("storage: open %s: %w", key, err))
		}
		return nil, unavailable(fmt.Errorf("storage: open %s: %w", key, err))
	}
	return &cancelOnClose{ReadCloser: out.Body, cancel: cancel}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// Copy puts a copy of the object at from under to, with to's cache
// lifetime (CacheControlFor).
func (s *S3) Copy(ctx context.Context, from, to string) error {
	if err := ValidateKey(from); err != nil {
		return err
	}
	if err := ValidateKey(to); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	in := &s3.CopyObjectInput{
		Bucket:            &s.cfg.Bucket,
		Key:               &to,
		CopySource:        aws.String(s.cfg.Bucket + "/" + from), // keys need no escaping (ValidateKey)
		MetadataDirective: types.MetadataDirectiveReplace,
		CacheControl:      aws.String(CacheControlFor(to)),
	}
	if ct, ok := contentTypes[path.Ext(to)]; ok {
		in.ContentType = aws.String(ct)
	}
	if _, err := s.client.CopyObject(ctx, in); err != nil {
		if isNotFound(err) {
			return ErrNotFound.With("", fmt.Errorf("storage: copy %s: %w", from, err))
		}
		return unavailable(fmt.Errorf("storage: copy %s to %s: %w", from, to, err))
	}
	return nil
}

// SignedURL returns a presigned GET of key valid for ttl from now.
func (s *S3) SignedURL(key string, ttl time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CallTimeout)
	defer cancel()
	req, err := s.exact.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key},
		s3.WithPresignExpires(ttl))
	if err != nil {
		s.cfg.Logger.Error("storage: presigning a GET failed", "bucket", s.cfg.Bucket, "key", key, "err", err)
		return ""
	}
	return req.URL
}

// URL returns where a client can GET key: PublicBaseURL/KEY when set,
// otherwise a presigned GET valid for PresignExpiry (less up to an hour,
// see hourlySigner). A private key is never public: it gets a presigned GET
// valid for an hour. Presigning is local computation; it fails only when
// the credentials cannot be had, and then URL logs why and returns "".
func (s *S3) URL(key string) string {
	if strings.HasPrefix(key, PrivatePrefix) {
		return s.SignedURL(key, time.Hour)
	}
	if s.cfg.PublicBaseURL != "" {
		return s.cfg.PublicBaseURL + "/" + key
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CallTimeout)
	defer cancel()
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err != nil {
		s.cfg.Logger.Error("storage: presigning a GET failed", "bucket", s.cfg.Bucket, "key", key, "err", err)
		return ""
	}
	return req.URL
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound") {
		return true
	}
	return false
}

// unavailable gives an S3 call that failed for want of a server (no
// connection, a timeout, a 5xx) the kind failure.Unavailable: tried again
// shortly, it may succeed. An answer the server gave on purpose (denied,
// no such bucket) stays as it is: retrying will not change it.
func unavailable(err error) error {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 && re.HTTPStatusCode() < 500 {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return failure.ErrUnavailable.With("", err)
}
