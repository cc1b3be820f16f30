/*
 * build_info.h - what a program was built from: the one version of
 * CMakeLists.txt (project(drover VERSION ...)) and the git commit of the
 * checkout ("unknown" outside one, e.g. a release tarball).  Both are
 * written at build time into a generated source (scripts/build-info.cmake),
 * which only the four programs link, so a new commit relinks the programs
 * and nothing else.
 *
 * Every program answers `PROGRAM --version` (the first argument; inside a
 * command, --version may name a package version) with two lines:
 *     drover-worker (drover) 0.1.0
 *     commit 0123456789ab
 * the GNU form help2man reads, and serves the same on /metrics as
 * drover_build_info{version="0.1.0",commit="0123456789ab"} 1
 * (dr_metrics_build_info, common/http/metrics.h).
 */
#ifndef DROVER_BUILD_INFO_H
#define DROVER_BUILD_INFO_H

/* "0.1.0" */
const char *dr_build_version(void);
/* The commit's first 12 hex digits, or "unknown". */
const char *dr_build_commit(void);

/* True when argv[1] is --version. */
int dr_build_version_requested(int argc, char **argv);
/* Print the version lines for program to stdout; returns the exit code (DR_EXIT_FAILED if stdout failed). */
int dr_build_print_version(const char *program);

#endif
