# `sam build` (BuildMethod: makefile, built in the source tree: samconfig.toml) runs one target
# per function. The first builds every bootstrap in one cross-compile (infra/build-functions);
# the others find it done and copy theirs.
build-%Function:
	infra/build-functions
	cp "$${CARGO_TARGET_DIR:-target}/lambda/$(shell echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr A-Z a-z)/bootstrap" "$(ARTIFACTS_DIR)/bootstrap"

# The ffmpeg layer make-images runs with (infra/ffmpeg-layer).
build-FfmpegLayer:
	infra/ffmpeg-layer "$(ARTIFACTS_DIR)"
