-- A photo may show the derivatives made for another content (the demo library's pictures,
-- drawn once and shared by every seeded row); NULL, as for every real photo, means its own.
ALTER TABLE photos ADD COLUMN derivatives_of BLOB;
