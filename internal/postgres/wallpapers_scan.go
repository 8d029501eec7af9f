package postgres

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// wallpaperFields are the columns a wallpaper is read from, out of
// `wallpapers w JOIN users u ON u.id = w.user_id`, each with the value it
// reads as when a LEFT JOIN found no wallpaper (optionalWallpaperColumns).
var wallpaperFields = []struct{ expr, zero string }{
	{"w.id", "'00000000-0000-0000-0000-000000000000'::uuid"},
	{"w.generation_id", "NULL::uuid"},
	{"w.user_id", "'00000000-0000-0000-0000-000000000000'::uuid"},
	{"u.nickname", "''"},
	{"COALESCE(u.avatar_key, '')", "''"},
	{"w.prompt", "''"},
	{"w.size", "''"},
	{"w.width", "0"},
	{"w.height", "0"},
	{"w.provider", "''"},
	{"w.model", "''"},
	{"COALESCE(w.preset, '')", "''"},
	{"w.params", "NULL::jsonb"},
	{"w.image_key", "''"},
	{"w.thumbnail_key", "''"},
	{"w.master_key", "''"},
	{"w.public", "false"},
	{"w.review", "''"},
	{"w.author_banned", "false"},
	{"w.published", "false"},
	{"w.visible", "false"},
	{likeCountExpr, "0"},
	{"w.created_at", "'epoch'::timestamptz"},
	{"w.approved_at", "NULL::timestamptz"},
	{"w.decided_at", "NULL::timestamptz"},
}

// wallpaperColumns select a wallpaper with its author;
// optionalWallpaperColumns the same through a LEFT JOIN, a missing
// wallpaper reading with the nil id.
var wallpaperColumns, optionalWallpaperColumns = func() (string, string) {
	cols := make([]string, len(wallpaperFields))
	opt := make([]string, len(wallpaperFields))
	for i, f := range wallpaperFields {
		cols[i] = f.expr
		opt[i] = "COALESCE(" + f.expr + ", " + f.zero + ")"
	}
	return strings.Join(cols, ", "), strings.Join(opt, ", ")
}()

func wallpaperDest(w *wallpaper.Wallpaper, params *[]byte) []any {
	return []any{&w.ID, &w.GenerationID, &w.Author.ID, &w.Author.Nickname, &w.Author.AvatarKey,
		&w.Prompt, &w.Size, &w.Width, &w.Height, &w.Provider, &w.Model, &w.Preset, params, &w.ImageKey, &w.ThumbnailKey,
		&w.MasterKey, &w.Public, &w.Review, &w.AuthorBanned, &w.Published, &w.Visible,
		&w.LikeCount, &w.CreatedAt, &w.ApprovedAt, &w.DecidedAt}
}

func decodeParams(w *wallpaper.Wallpaper, raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, &w.Params); err != nil {
		return fmt.Errorf("postgres: wallpaper %s params: %w", w.ID, err)
	}
	return nil
}

func scanWallpaper(row pgx.Row) (*wallpaper.Wallpaper, error) {
	var w wallpaper.Wallpaper
	var params []byte
	if err := row.Scan(wallpaperDest(&w, &params)...); err != nil {
		return nil, err
	}
	return &w, decodeParams(&w, params)
}
