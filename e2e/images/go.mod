module backup-platform/e2e/images

go 1.25
