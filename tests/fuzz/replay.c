/* SPDX-License-Identifier: ISC */
/*
 * replay.c: a main for a fuzz target without libFuzzer, so that its corpus
 * runs in `make check` under any compiler. Each argument is a file, or a
 * directory whose files (not its subdirectories) are run in name order;
 * each file's bytes go to LLVMFuzzerTestOneInput in a buffer of exactly
 * their size. With no argument, as a test of `make check`, it runs the
 * target's seed corpus, $abs_top_srcdir/tests/fuzz/corpus/FUZZ_CORPUS
 * (FUZZ_CORPUS is set at build time). A broken invariant aborts, as under
 * libFuzzer; a file or directory that cannot be read, or no input at all,
 * fails with 1.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Runs the target over one file; -1 if it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *b;

			cap = cap ? cap * 2 : 4096;
			b = realloc(buf, cap);
			if (b == NULL) {
				fprintf(stderr, "replay: %s: no memory\n",
					path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = b;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* In a buffer of exactly its size, so that reading past the input
	 * is caught by AddressSanitizer where it is on. */
	{
		uint8_t *exact = malloc(len > 0 ? len : 1);

		if (exact == NULL) {
			free(buf);
			return -1;
		}
		if (len > 0)
			memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 0;
}

static int replay_only_files(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Runs every file of a directory; how many, or -1. */
static long replay_dir(const char *dir)
{
	struct dirent **names;
	long runs = 0;
	int n, i;

	n = scandir(dir, &names, replay_only_files, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
		char *path = malloc(len);
		struct stat st;

		if (path == NULL) {
			runs = -1;
			break;
		}
		snprintf(path, len, "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) < 0)
				runs = -1;
			else if (runs >= 0)
				runs++;
		}
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return runs;
}

/* Runs a file, or every file of a directory; how many, or -1. */
static long replay_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return replay_dir(path);
	return replay_file(path) < 0 ? -1 : 1;
}

/* The seed corpus, for a run with no argument; NULL if unknown. */
static char *replay_corpus(void)
{
#ifdef FUZZ_CORPUS
	const char *top = getenv("abs_top_srcdir");
	const char *sub = "/tests/fuzz/corpus/" FUZZ_CORPUS;
	size_t len;
	char *path;

	if (top == NULL || *top == '\0')
		return NULL;
	len = strlen(top) + strlen(sub) + 1;
	path = malloc(len);
	if (path != NULL)
		snprintf(path, len, "%s%s", top, sub);
	return path;
#else
	return NULL;
#endif
}

int main(int argc, char **argv)
{
	long runs = 0;
	int i, status = 0;

	if (argc < 2) {
		char *corpus = replay_corpus();

		if (corpus == NULL) {
			fprintf(stderr,
				"usage: %s FILE-OR-DIR ...\n"
				"(or no argument, with abs_top_srcdir "
				"set, as make check does)\n",
				argv[0]);
			return 99;
		}
		printf("replay: %s\n", corpus);
		runs = replay_path(corpus);
		free(corpus);
		if (runs < 0)
			status = 1;
	}
	for (i = 1; i < argc; i++) {
		long n = replay_path(argv[i]);

		if (n < 0)
			status = 1;
		else
			runs += n;
	}
	if (runs <= 0) {
		fprintf(stderr, "replay: no input to run\n");
		status = 1;
	}
	printf("replay: %ld input%s run\n", runs > 0 ? runs : 0,
	       runs == 1 ? "" : "s");
	return status;
}
