package user

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/picture"
)

// Profile rules.
const (
	MaxNicknameRunes = 32
	MaxAvatarBytes   = 2 << 20
	// AvatarSize bounds the stored avatar; a phone shows it at under 200 px.
	AvatarSize    = 512
	avatarQuality = 85
	// AvatarMemory bounds the heap one avatar takes while it is processed:
	// decoding within avatarLimits (32 MiB), scaling to 512 px (the
	// scaler's intermediate is at most 512 x 2048 pixels of 32 bytes: 32
	// MiB), the scaled image and the JPEG. Slots multiply it.
	AvatarMemory = 72 << 20
	// avatarSlotWait bounds the wait for a decoding slot; beyond, the
	// upload is a 503 to retry.
	avatarSlotWait = 20 * time.Second
)

// avatarLimits refuse, from the header, what costs far more to decode than
// a 512 px avatar is worth: more than 2048 x 2048 pixels (4x the stored
// size on each side is plenty to scale from), a side over 8192, or more
// than 32 MiB of decoding (16-bit colour or interlacing at full size, a
// large progressive JPEG with full-resolution colour).
var avatarLimits = picture.Limits{MaxPixels: 2048 * 2048, MaxSide: 8192, MaxDecodeBytes: 32 << 20}

// Errors of the profile rules.
var (
	ErrContentRejected = failure.New(failure.Rejected, "content_rejected", "the nickname was rejected by content moderation: choose another")
	ErrAvatarTooLarge  = failure.New(failure.TooLarge, "payload_too_large", fmt.Sprintf("the avatar must be at most %d bytes", MaxAvatarBytes))
)

// Store keeps users.
type Store interface {
	// User returns the user with this id, or ErrNotFound.
	User(ctx context.Context, id uuid.UUID) (User, error)
	// Update locks the user, lets change modify its nickname and avatar key,
	// and saves them; when change fails nothing is saved.
	Update(ctx context.Context, id uuid.UUID, change func(*User) error) (User, error)
}

// Objects is the object storage avatars live in (storage.Local, storage.S3).
type Objects interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Delete(ctx context.Context, key string) error
	URL(key string) string
}

// Moderator says whether user-written text may be shown to others, judged
// for the user with that openid (WeChat msgSecCheck, profile scene).
type Moderator func(ctx context.Context, openID, text string) (allowed bool, err error)

// Service is the profile domain.
type Service struct {
	store    Store
	objects  Objects
	moderate Moderator
	decodes  *picture.Slots
	logger   *slog.Logger
}

// NewService returns the profile service. moderate may be nil: nicknames
// then pass the local rules only (dev without WeChat).
func NewService(store Store, objects Objects, moderate Moderator, logger *slog.Logger) *Service {
	return &Service{store: store, objects: objects, moderate: moderate, logger: logger}
}

// DecodeIn processes avatars in slots from now on, so that concurrent
// uploads share the process's bound on image decoding; without it (nil)
// each upload decodes at once.
func (s *Service) DecodeIn(slots *picture.Slots) { s.decodes = slots }

// Profile returns the user.
func (s *Service) Profile(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("user: loading %s: %w", id, err)
	}
	return u, nil
}

// AvatarURL is where clients download the user's avatar; "" without one.
func (s *Service) AvatarURL(u User) string {
	if u.AvatarKey == "" {
		return ""
	}
	return s.objects.URL(u.AvatarKey)
}

// Rename sets the nickname: 1-32 runes after trimming, printable, and
// allowed by moderation when a moderator is configured.
func (s *Service) Rename(ctx context.Context, id uuid.UUID, nickname string) (User, error) {
	nickname, err := NormalizeNickname(nickname)
	if err != nil {
		return User{}, err
	}
	if s.moderate != nil {
		u, err := s.Profile(ctx, id)
		if err != nil {
			return User{}, err
		}
		ok, err := s.moderate(ctx, u.OpenID, nickname)
		if err != nil {
			return User{}, fmt.Errorf("user: moderating a nickname: %w", err)
		}
		if !ok {
			return User{}, ErrContentRejected
		}
	}
	u, err := s.store.Update(ctx, id, func(u *User) error {
		u.Nickname = nickname
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("user: renaming %s: %w", id, err)
	}
	return u, nil
}

// NormalizeNickname trims a nickname and checks the local rules.
func NormalizeNickname(nickname string) (string, error) {
	nickname = strings.TrimSpace(nickname)
	if !utf8.ValidString(nickname) {
		return "", failure.InvalidRequest("nickname must be valid UTF-8")
	}
	n := utf8.RuneCountInString(nickname)
	if n < 1 || n > MaxNicknameRunes {
		return "", failure.InvalidRequest(fmt.Sprintf("nickname must be 1-%d characters after trimming spaces", MaxNicknameRunes))
	}
	for _, r := range nickname {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", failure.InvalidRequest("nickname must not contain control characters or line breaks")
		}
	}
	return nickname, nil
}

// SetAvatar stores a new avatar: a JPEG, PNG or WebP of at most 2 MiB
// (judged by its bytes) that is not too costly to decode (avatarLimits),
// re-encoded as a JPEG of at most 512 x 512 so that no metadata survives,
// under a fresh key (caches never serve a stale one). Decoding and scaling
// wait for a slot (DecodeIn). The previous avatar's object is deleted.
func (s *Service) SetAvatar(ctx context.Context, id uuid.UUID, data []byte) (User, error) {
	if len(data) > MaxAvatarBytes {
		return User{}, ErrAvatarTooLarge
	}
	if _, ok := picture.Sniff(data); !ok {
		return User{}, picture.ErrUnsupported
	}
	var jpg []byte
	waitCtx, cancel := context.WithTimeout(ctx, avatarSlotWait)
	defer cancel()
	err := s.decodes.Do(waitCtx, func() error {
		img, _, err := picture.DecodeWithin(data, avatarLimits)
		if err != nil {
			return err
		}
		if jpg, err = picture.EncodeJPEG(picture.Fit(img, AvatarSize, AvatarSize), avatarQuality); err != nil {
			return fmt.Errorf("user: encoding the avatar: %w", err)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	key := fmt.Sprintf("avatars/%s/%s.jpg", id, uuid.New())
	if err := s.objects.Put(ctx, key, jpg, "image/jpeg"); err != nil {
		return User{}, fmt.Errorf("user: storing the avatar: %w", err)
	}
	var old string
	u, err := s.store.Update(ctx, id, func(u *User) error {
		old, u.AvatarKey = u.AvatarKey, key
		return nil
	})
	if err != nil {
		s.deleteObject(ctx, key)
		return User{}, fmt.Errorf("user: saving the avatar of %s: %w", id, err)
	}
	if old != "" {
		s.deleteObject(ctx, old)
	}
	return u, nil
}

// deleteObject removes an object nobody refers to any more. A failure
// leaves an orphan, not a broken profile, so it is logged, not returned.
func (s *Service) deleteObject(ctx context.Context, key string) {
	err := s.objects.Delete(context.WithoutCancel(ctx), key)
	if fe := failure.From(err); err != nil && (fe == nil || fe.Kind != failure.NotFound) {
		s.logger.WarnContext(ctx, "deleting an unused avatar", "key", key, "err", err)
	}
}
