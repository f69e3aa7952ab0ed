# Thin wrappers over meson/ninja and the scripts; the scripts are the real interface.
#   make                         build build/ (debugoptimized, what the tests use)
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#   make release                 build-release/: static jansson/protobuf-c, only libc needed
#   make images                  OCI archives of the node installer (scripts/build-images.sh)
#   make test / make demo        scripts/test.sh / scripts/demo.sh
PREFIX ?= /usr/local
DESTDIR ?=
BUILDDIR ?= build

.PHONY: all install release images test demo clean
all: $(BUILDDIR)/build.ninja
	ninja -C $(BUILDDIR)

$(BUILDDIR)/build.ninja:
	meson setup $(BUILDDIR) --prefix=$(PREFIX)

install: all
	meson configure $(BUILDDIR) -Dprefix=$(PREFIX)
	meson install -C $(BUILDDIR) --destdir "$(DESTDIR)"

release:
	scripts/build-release.sh

images: release
	scripts/build-images.sh

test:
	scripts/test.sh

demo:
	scripts/demo.sh

clean:
	rm -rf build build-asan build-fuzz build-release build-images
