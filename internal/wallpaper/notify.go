package wallpaper

import (
	"context"
	"errors"
	"log/slog"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// ErrMessageRefused is a subscribe message the user's grant does not cover
// (they refused it, or the one-time grant was used).
var ErrMessageRefused = failure.New(failure.Rejected, "subscribe_refused", "the user has no subscribe grant for this message")

// Messenger tells a user that their generation settled: WeChat's
// subscribe message, or the log in dev.
type Messenger interface {
	GenerationSettled(ctx context.Context, g *Generation) error
}

// NotificationStore is what the subscribe message needs from the database.
type NotificationStore interface {
	// ClaimNotification marks the message of generation id as sent and
	// returns the generation; claimed is false when it was claimed before,
	// or none was asked for. One claim per generation, ever.
	ClaimNotification(ctx context.Context, id uuid.UUID) (g *Generation, claimed bool, err error)
}

// Notifications sends each generation's subscribe message at most once,
// when its result is settled (queued by the store in the transaction that
// settles it: the end of a failed or private generation, the image check's
// verdict on a public one). A refusal or any other error is logged and
// counted (by the messenger's metrics), never retried, and never changes
// the generation.
type Notifications struct {
	store     NotificationStore
	messenger Messenger
	logger    *slog.Logger
}

// NewNotifications returns the subscribe message sender.
func NewNotifications(store NotificationStore, messenger Messenger, logger *slog.Logger) *Notifications {
	return &Notifications{store: store, messenger: messenger, logger: logger}
}

// Send sends generation id's message if it has not been claimed yet. The
// claim comes first: a process that dies before sending loses the message
// rather than ever sending two.
func (n *Notifications) Send(ctx context.Context, id uuid.UUID) error {
	g, claimed, err := n.store.ClaimNotification(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && !claimed) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := n.messenger.GenerationSettled(ctx, g); err != nil {
		n.logger.WarnContext(ctx, "the subscribe message was not sent (not retried)", "generation_id", id, "err", err)
	}
	return nil
}

// SettledWords are the outcome of a settled generation as the message
// shows it (Chinese): a short status and a note.
func SettledWords(g *Generation) (status, note string) {
	switch {
	case g.Status == StatusFailed && g.Error != nil && g.Error.Code == "content_rejected":
		return "未通过审核", "图片未通过内容审核，额度已退回"
	case g.Status == StatusFailed && g.Error != nil && g.Error.Code == "cancelled":
		return "已取消", "本次生成已取消，额度已退回"
	case g.Status == StatusFailed:
		return "生成失败", "本次额度已退回，可以再试一次"
	case g.Wallpaper != nil && g.Wallpaper.Review == ReviewHeld:
		return "人工审核中", "壁纸已生成，正在人工审核"
	case g.Wallpaper != nil && g.Wallpaper.Public:
		return "已完成", "壁纸已生成并发布到画廊"
	default:
		return "已完成", "壁纸已生成，点击查看"
	}
}

// LogMessenger is the messenger without WeChat (dev): the message goes to
// the log.
type LogMessenger struct{ Logger *slog.Logger }

// GenerationSettled implements Messenger.
func (m LogMessenger) GenerationSettled(ctx context.Context, g *Generation) error {
	status, note := SettledWords(g)
	m.Logger.InfoContext(ctx, "subscribe message (dev: not sent to WeChat)", "user_id", g.UserID, "generation_id", g.ID,
		"status", status, "note", note)
	return nil
}
