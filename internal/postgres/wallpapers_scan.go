package postgres

import (
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// wallpaperColumns select a wallpaper with its author from
// `wallpapers w JOIN users u ON u.id = w.user_id`.
const wallpaperColumns = `w.id, w.generation_id, w.user_id, u.nickname, COALESCE(u.avatar_key, ''),
	w.prompt, w.size, w.width, w.height, w.provider, w.model, w.params, w.image_key, w.thumbnail_key,
	w.public, w.like_count, w.created_at`

func wallpaperDest(w *wallpaper.Wallpaper, params *[]byte) []any {
	return []any{&w.ID, &w.GenerationID, &w.Author.ID, &w.Author.Nickname, &w.Author.AvatarKey,
		&w.Prompt, &w.Size, &w.Width, &w.Height, &w.Provider, &w.Model, params, &w.ImageKey, &w.ThumbnailKey,
		&w.Public, &w.LikeCount, &w.CreatedAt}
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
