package postgres_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
)

// TestProvidersMigrationBackfills: wallpapers painted before 00004 get the
// provider that painted them: the offline painter's are offline, the rest
// came from OpenAI, the only provider there was.
func TestProvidersMigrationBackfills(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, p := migratedTo(t, 3)
	user := uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, openid) VALUES ($1, 'dev:old')`, user); err != nil {
		t.Fatal(err)
	}
	byModel := map[string]uuid.UUID{"offline": uuid.New(), "dall-e-3": uuid.New(), "gpt-image-1": uuid.New()}
	for model, id := range byModel {
		_, err := pool.Exec(ctx, `INSERT INTO wallpapers (id, user_id, prompt, size, width, height, model, image_key, thumbnail_key)
			VALUES ($1, $2, 'p', '1024x1792', 1024, 1792, $3, 'k', 't')`, id, user, model)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"offline": "offline", "dall-e-3": "openai", "gpt-image-1": "openai"}
	for model, id := range byModel {
		var provider string
		if err := pool.QueryRow(ctx, `SELECT provider FROM wallpapers WHERE id = $1`, id).Scan(&provider); err != nil {
			t.Fatal(err)
		}
		if provider != want[model] {
			t.Errorf("a %s wallpaper has provider %q, want %q", model, provider, want[model])
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE wallpapers SET provider = '' WHERE id = $1`, byModel["offline"]); err == nil {
		t.Error("an empty provider was accepted")
	}
	if _, err := p.DownTo(ctx, 3); err != nil {
		t.Fatalf("down from 00004: %v", err)
	}
}
