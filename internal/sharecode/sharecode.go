// Package sharecode makes the image that opens a wallpaper in the
// mini-program, for posters and sharing: WeChat's mini-program code
// (wxacode.getUnlimited), or without WeChat (dev) a QR code of the same
// page. Each is made once and kept in object storage.
package sharecode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/skip2/go-qrcode"

	"github.com/wallpaperd/wallpaperd/internal/storage"
)

// DetailPage is the mini-program page that shows one wallpaper.
const DetailPage = "pages/detail/detail"

// Maker makes a wallpaper's code: its image bytes and content type.
type Maker interface {
	Make(ctx context.Context, id uuid.UUID) (data []byte, contentType string, err error)
}

// Store keeps the made codes.
type Store interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Codes returns each wallpaper's code, made on first use and kept.
type Codes struct {
	maker Maker
	store Store
	ext   string // of the kept objects, after the maker's format
}

// New returns the codes made by maker (ext: "jpg" for WeChat's, "png"
// for QR codes) and kept in store.
func New(maker Maker, store Store, ext string) *Codes {
	return &Codes{maker: maker, store: store, ext: ext}
}

// Key is where wallpaper id's code is kept. A code only opens a page, so
// it is not withdrawn while the wallpaper exists (it is shown only for
// wallpapers others may see); it is removed with the wallpaper
// (internal/postgres removedKeys names both extensions).
func (c *Codes) Key(id uuid.UUID) string { return "wxacode/" + id.String() + "." + c.ext }

// Code returns wallpaper id's code.
func (c *Codes) Code(ctx context.Context, id uuid.UUID) ([]byte, string, error) {
	key := c.Key(id)
	if r, err := c.store.Open(ctx, key); err == nil {
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, "", fmt.Errorf("sharecode: reading %s: %w", key, err)
		}
		return data, contentType(c.ext), nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, "", err
	}
	data, ct, err := c.maker.Make(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if err := c.store.Put(ctx, key, data, ct); err != nil {
		return nil, "", err
	}
	return data, ct, nil
}

func contentType(ext string) string {
	if ext == "png" {
		return "image/png"
	}
	return "image/jpeg"
}

// QR makes a QR code of the detail page's path with the wallpaper's id,
// as a PNG: what dev shows in place of WeChat's code.
type QR struct{}

// qrModulePixels is the width of one QR module: whole pixels keep every
// module the same width (a 430 px image, WeChat's size, scaled 41 modules
// unevenly, and a common decoder missed about one code in nine). The path
// of a wallpaper is 59 bytes, a version 4 code: 41 modules with the quiet
// zone, 410 px.
const qrModulePixels = 10

// Make implements Maker.
func (QR) Make(_ context.Context, id uuid.UUID) ([]byte, string, error) {
	data, err := qrcode.Encode(Path(id), qrcode.Medium, -qrModulePixels)
	if err != nil {
		return nil, "", fmt.Errorf("sharecode: %w", err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG")) {
		return nil, "", errors.New("sharecode: the QR code is not a PNG")
	}
	return data, "image/png", nil
}

// Path is the mini-program path that opens wallpaper id.
func Path(id uuid.UUID) string { return DetailPage + "?id=" + id.String() }

// WeChatMaker makes WeChat's mini-program code (the wechat adapter).
type WeChatMaker struct {
	Client interface {
		WXACode(ctx context.Context, scene, page, envVersion string) ([]byte, error)
	}
	// EnvVersion is the mini-program version the code opens: release,
	// trial or develop.
	EnvVersion string
}

// Make implements Maker: the scene is the id without dashes, 32
// characters, WeChat's limit.
func (w WeChatMaker) Make(ctx context.Context, id uuid.UUID) ([]byte, string, error) {
	data, err := w.Client.WXACode(ctx, fmt.Sprintf("%x", id[:]), DetailPage, w.EnvVersion)
	if err != nil {
		return nil, "", err
	}
	return data, "image/jpeg", nil
}
