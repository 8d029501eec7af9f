-- Every wallpaper records the image provider that painted it (openai,
-- ark, zhipu, siliconflow, offline) beside the model, now that a chain of
-- providers can stand in for one another.

-- +goose Up
-- Before this migration OpenAI was the only provider besides the offline
-- painter. The default stays for rows written by tools that predate the
-- column (seeders, old tests); wallpaperd itself always names the provider.
ALTER TABLE wallpapers ADD COLUMN provider text NOT NULL DEFAULT 'openai' CHECK (provider <> '');
UPDATE wallpapers SET provider = 'offline' WHERE model = 'offline';

-- +goose Down
ALTER TABLE wallpapers DROP COLUMN provider;
