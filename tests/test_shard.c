/* SPDX-License-Identifier: MIT */
/*
 * test_shard.c — this run's share of a batch (app/shard.c): --shard K/N and none,
 * the Slurm, Kubernetes and AWS Batch variables and their counts, every refusal,
 * and the split itself: disjoint, complete, balanced and stable.
 *
 * Every test starts from an environment without any scheduler variable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"

static const char *const VARS[] = {
	"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
	"SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_STEP", "IMGPOOL_SHARD_COUNT", "JOB_COMPLETION_INDEX",
	"AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE", "SLURM_CPUS_PER_TASK",
};

static int clean_env(void **state)
{
	for (size_t i = 0; i < sizeof VARS / sizeof *VARS; i++)
		unsetenv(VARS[i]);
	return 0;
}

static char msg[256];

/* shard_resolve succeeds with k of n from source. */
static void resolves(const char *arg, int count, int k, int n, const char *source)
{
	shard s;
	msg[0] = '\0';
	if (shard_resolve(arg, count, &s, msg, sizeof msg) < 0)
		fail_msg("refused: %s", msg);
	assert_int_equal(s.k, k);
	assert_int_equal(s.n, n);
	assert_string_equal(s.source, source);
}

/* shard_resolve fails with exactly this message. */
static void refuses(const char *arg, int count, const char *want)
{
	shard s;
	msg[0] = '\0';
	if (shard_resolve(arg, count, &s, msg, sizeof msg) == 0)
		fail_msg("accepted: %d of %d from %s", s.k, s.n, s.source);
	assert_string_equal(msg, want);
}

static void test_arg(void **state)
{
	resolves("2/4", 0, 2, 4, "--shard");
	resolves("1/1", 0, 1, 1, "--shard");
	resolves("4/4", 0, 4, 4, "--shard");
	resolves("1000000/1000000", 0, 1000000, 1000000, "--shard");
	/* --shard-count does not change an explicit K/N */
	resolves("1/2", 7, 1, 2, "--shard");
	resolves("none", 0, 0, 0, "none");
	static const char *const bad[] = {
		"0/4", "5/4", "4", "1/0", "a/b", "1/2x", "", "1/1000001", "-1/4", "2/4/8",
		"2/-4", "1/", "/4", "None", "2 of 4", "99999999999/1", "+1/2", "1/+2", " 1/2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char want[128];
		snprintf(want, sizeof want, "--shard: '%s': expected K/N with 1 <= K <= N <= 1000000, or none",
			 bad[i]);
		refuses(bad[i], 0, want);
	}
}

/* The argument wins over any scheduler variable; "none" turns sharding off. */
static void test_arg_over_env(void **state)
{
	setenv("SLURM_ARRAY_TASK_ID", "3", 1);
	setenv("SLURM_ARRAY_TASK_COUNT", "8", 1);
	setenv("JOB_COMPLETION_INDEX", "1", 1);
	setenv("IMGPOOL_SHARD_COUNT", "2", 1);
	resolves("2/4", 0, 2, 4, "--shard");
	resolves("none", 0, 0, 0, "none");
	/* an unparsable one is still refused, not replaced by the variables */
	refuses("x", 0, "--shard: 'x': expected K/N with 1 <= K <= N <= 1000000, or none");
}

static void test_none(void **state)
{
	resolves(NULL, 0, 0, 0, "none");
	resolves(NULL, 5, 0, 0, "none");  /* a count alone shards nothing */
	/* empty variables are as good as unset */
	setenv("SLURM_ARRAY_TASK_ID", "", 1);
	setenv("JOB_COMPLETION_INDEX", "", 1);
	setenv("AWS_BATCH_JOB_ARRAY_INDEX", "", 1);
	setenv("IMGPOOL_SHARD_COUNT", "4", 1);
	resolves(NULL, 0, 0, 0, "none");
}

/* Slurm's array variables for task id (NULL: unset). */
static void slurm_array(const char *id, const char *min, const char *max, const char *count,
			const char *step)
{
	const char *const names[] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN",
				     "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT",
				     "SLURM_ARRAY_TASK_STEP"};
	const char *const values[] = {id, min, max, count, step};
	for (int i = 0; i < 5; i++)
		if (values[i])
			setenv(names[i], values[i], 1);
		else
			unsetenv(names[i]);
}

static void test_slurm(void **state)
{
	/* an array 0-3 */
	setenv("SLURM_ARRAY_TASK_ID", "0", 1);
	setenv("SLURM_ARRAY_TASK_MIN", "0", 1);
	setenv("SLURM_ARRAY_TASK_MAX", "3", 1);
	setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
	resolves(NULL, 0, 1, 4, "SLURM_ARRAY_TASK_ID");
	setenv("SLURM_ARRAY_TASK_ID", "3", 1);
	resolves(NULL, 0, 4, 4, "SLURM_ARRAY_TASK_ID");
	/* --array=5-8: ids start at MIN */
	setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
	setenv("SLURM_ARRAY_TASK_MAX", "8", 1);
	unsetenv("SLURM_ARRAY_TASK_COUNT");
	setenv("SLURM_ARRAY_TASK_ID", "5", 1);
	resolves(NULL, 0, 1, 4, "SLURM_ARRAY_TASK_ID");
	setenv("SLURM_ARRAY_TASK_ID", "8", 1);
	resolves(NULL, 0, 4, 4, "SLURM_ARRAY_TASK_ID");
	/* SLURM_ARRAY_TASK_COUNT before MAX - MIN + 1 */
	setenv("SLURM_ARRAY_TASK_MAX", "11", 1);
	setenv("SLURM_ARRAY_TASK_COUNT", "7", 1);
	resolves(NULL, 0, 4, 7, "SLURM_ARRAY_TASK_ID");
	/* --shard-count before both, where the array has a task for each shard */
	resolves(NULL, 7, 4, 7, "SLURM_ARRAY_TASK_ID");
	/* fewer tasks than shards: shards 8..10 would be no task's */
	refuses(NULL, 10, "SLURM_ARRAY_TASK_ID=8: the array (7 tasks, ids 5..11 step 1) is not "
			  "one task per shard of --shard-count: give --shard K/N");
	/* a stepped array (--array=1-7:2): the task's place in it */
	slurm_array("5", "1", "7", "4", "2");
	resolves(NULL, 0, 3, 4, "SLURM_ARRAY_TASK_ID");
	setenv("SLURM_ARRAY_TASK_ID", "7", 1);
	resolves(NULL, 0, 4, 4, "SLURM_ARRAY_TASK_ID");
	resolves(NULL, 4, 4, 4, "SLURM_ARRAY_TASK_ID");
	/* a list of ids (--array=3,7 sent again from 0-9): no place tells the shard */
	slurm_array("7", "3", "7", "2", "1");
	refuses(NULL, 0, "SLURM_ARRAY_TASK_ID=7: the array (2 tasks, ids 3..7 step 1) is not "
			 "one task per shard: give --shard K/N");
	refuses(NULL, 10, "SLURM_ARRAY_TASK_ID=7: the array (2 tasks, ids 3..7 step 1) is not "
			  "one task per shard of --shard-count: give --shard K/N");
	slurm_array("8", "5", "11", "7", NULL);
	/* no MIN: ids from 0 */
	unsetenv("SLURM_ARRAY_TASK_MIN");
	unsetenv("SLURM_ARRAY_TASK_MAX");
	setenv("SLURM_ARRAY_TASK_COUNT", "9", 1);
	resolves(NULL, 0, 9, 9, "SLURM_ARRAY_TASK_ID");
	/* Slurm before Kubernetes and AWS */
	setenv("JOB_COMPLETION_INDEX", "0", 1);
	setenv("AWS_BATCH_JOB_ARRAY_INDEX", "0", 1);
	setenv("IMGPOOL_SHARD_COUNT", "3", 1);
	resolves(NULL, 0, 9, 9, "SLURM_ARRAY_TASK_ID");
}

static void test_slurm_errors(void **state)
{
	setenv("SLURM_ARRAY_TASK_ID", "abc", 1);
	setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
	refuses(NULL, 0, "SLURM_ARRAY_TASK_ID='abc' is not a number");
	setenv("SLURM_ARRAY_TASK_ID", "4", 1);
	refuses(NULL, 0, "SLURM_ARRAY_TASK_ID=4 is outside 0..3");
	/* no count anywhere */
	unsetenv("SLURM_ARRAY_TASK_COUNT");
	setenv("SLURM_ARRAY_TASK_ID", "1", 1);
	refuses(NULL, 0, "SLURM_ARRAY_TASK_ID is set but the number of tasks is not: give "
		"--shard-count N (or --shard none)");
	/* MAX below MIN tells no count either */
	setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
	setenv("SLURM_ARRAY_TASK_MAX", "4", 1);
	refuses(NULL, 0, "SLURM_ARRAY_TASK_ID is set but the number of tasks is not: give "
		"--shard-count N (or --shard none)");
	/* a COUNT that is not a number is no count */
	unsetenv("SLURM_ARRAY_TASK_MIN");
	unsetenv("SLURM_ARRAY_TASK_MAX");
	setenv("SLURM_ARRAY_TASK_COUNT", "0", 1);
	refuses(NULL, 0, "SLURM_ARRAY_TASK_ID is set but the number of tasks is not: give "
		"--shard-count N (or --shard none)");
	/* --shard none still wins */
	resolves("none", 0, 0, 0, "none");
}

/* Messages quote the variable as it is set: with ids 5-8, SLURM_ARRAY_TASK_ID=9
 * (once reported as "=4 is outside 0..3"); an index that is not a number (once
 * "=-1"). */
static void test_messages_quote_the_value(void **state)
{
	setenv("SLURM_ARRAY_TASK_ID", "9", 1);
	setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
	setenv("SLURM_ARRAY_TASK_MAX", "8", 1);
	shard s;
	assert_int_equal(shard_resolve(NULL, 0, &s, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "SLURM_ARRAY_TASK_ID=9"));
	clean_env(NULL);
	setenv("JOB_COMPLETION_INDEX", "x", 1);
	assert_int_equal(shard_resolve(NULL, 4, &s, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "'x'"));
}

/* K and N past INT_MAX are refused (sscanf's %d once wrapped "4294967297/4" to
 * shard 1 of 4). */
static void test_arg_overflow(void **state)
{
	refuses("4294967297/4", 0,
		"--shard: '4294967297/4': expected K/N with 1 <= K <= N <= 1000000, or none");
	refuses("1/4294967298", 0,
		"--shard: '1/4294967298': expected K/N with 1 <= K <= N <= 1000000, or none");
}

static void test_kubernetes(void **state)
{
	setenv("JOB_COMPLETION_INDEX", "2", 1);
	refuses(NULL, 0, "JOB_COMPLETION_INDEX is set but the number of tasks is not: give "
		"--shard-count N (or --shard none)");
	resolves(NULL, 4, 3, 4, "JOB_COMPLETION_INDEX");
	setenv("IMGPOOL_SHARD_COUNT", "3", 1);
	resolves(NULL, 0, 3, 3, "JOB_COMPLETION_INDEX");
	resolves(NULL, 5, 3, 5, "JOB_COMPLETION_INDEX");  /* --shard-count first */
	setenv("JOB_COMPLETION_INDEX", "0", 1);
	resolves(NULL, 0, 1, 3, "JOB_COMPLETION_INDEX");
	setenv("JOB_COMPLETION_INDEX", "3", 1);
	refuses(NULL, 0, "JOB_COMPLETION_INDEX=3 is outside 0..2");
	setenv("IMGPOOL_SHARD_COUNT", "zero", 1);
	setenv("JOB_COMPLETION_INDEX", "1", 1);
	refuses(NULL, 0, "IMGPOOL_SHARD_COUNT='zero': expected a number of tasks from 1 to "
		"1000000");
	unsetenv("IMGPOOL_SHARD_COUNT");
	refuses(NULL, 0, "JOB_COMPLETION_INDEX is set but the number of tasks is not: give "
		"--shard-count N (or --shard none)");
	setenv("IMGPOOL_SHARD_COUNT", "zero", 1); /* no index: a plain run, as before */
	unsetenv("JOB_COMPLETION_INDEX");
	resolves(NULL, 0, 0, 0, "none");
	setenv("JOB_COMPLETION_INDEX", "1", 1);
	/* Kubernetes before AWS */
	setenv("IMGPOOL_SHARD_COUNT", "2", 1);
	setenv("AWS_BATCH_JOB_ARRAY_INDEX", "0", 1);
	setenv("AWS_BATCH_JOB_ARRAY_SIZE", "9", 1);
	resolves(NULL, 0, 2, 2, "JOB_COMPLETION_INDEX");
	/* a bad index is refused, never taken as shard 1 */
	setenv("JOB_COMPLETION_INDEX", "x", 1);
	shard s;
	assert_int_equal(shard_resolve(NULL, 0, &s, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "JOB_COMPLETION_INDEX"));
}

static void test_aws(void **state)
{
	setenv("AWS_BATCH_JOB_ARRAY_INDEX", "0", 1);
	refuses(NULL, 0, "AWS_BATCH_JOB_ARRAY_INDEX is set but the number of tasks is not: give "
		"--shard-count N (or --shard none)");
	setenv("AWS_BATCH_JOB_ARRAY_SIZE", "3", 1);
	resolves(NULL, 0, 1, 3, "AWS_BATCH_JOB_ARRAY_INDEX");
	setenv("AWS_BATCH_JOB_ARRAY_INDEX", "2", 1);
	resolves(NULL, 0, 3, 3, "AWS_BATCH_JOB_ARRAY_INDEX");
	/* IMGPOOL_SHARD_COUNT, then --shard-count, before the array size */
	setenv("IMGPOOL_SHARD_COUNT", "6", 1);
	resolves(NULL, 0, 3, 6, "AWS_BATCH_JOB_ARRAY_INDEX");
	resolves(NULL, 8, 3, 8, "AWS_BATCH_JOB_ARRAY_INDEX");
	unsetenv("IMGPOOL_SHARD_COUNT");
	setenv("AWS_BATCH_JOB_ARRAY_INDEX", "3", 1);
	refuses(NULL, 0, "AWS_BATCH_JOB_ARRAY_INDEX=3 is outside 0..2");
}

/* ------------------------------------------------------------------------- */
/* The split                                                                  */

static void name_of(int i, char *buf, size_t len)
{
	/* the shapes of real trees: folders, numbered photos, mixed case, UTF-8 */
	static const char *const dirs[] = {"", "2024/", "2024/07/", "Caf\xc3\xa9/", "a b/"};
	snprintf(buf, len, "%sIMG_%04d.%s", dirs[i % 5], i, i % 3 ? "jpg" : "JPG");
}

static void test_split(void **state)
{
	enum { FILES = 20000 };
	static const int ns[] = {1, 2, 3, 4, 7, 16, 100};
	char name[64];
	for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
		int n = ns[t];
		int count[100] = {0};
		for (int i = 0; i < FILES; i++) {
			name_of(i, name, sizeof name);
			int k = shard_of(name, n);
			/* in range: each file in exactly one of shards 1..n */
			if (k < 1 || k > n)
				fail_msg("%s: shard %d of %d", name, k, n);
			count[k - 1]++;
		}
		/* every shard gets its share: within 5 standard deviations of a fair split
		 * (a fixed hash of fixed names: the result never varies between runs) */
		int sum = 0;
		double mean = (double)FILES / n, slack = 5 * sqrt(mean);
		for (int k = 0; k < n; k++) {
			sum += count[k];
			if (fabs(count[k] - mean) > slack)
				fail_msg("shard %d of %d has %d of %d files", k + 1, n, count[k], FILES);
		}
		assert_int_equal(sum, FILES);
	}
	/* n <= 0: no sharding, everything is shard 1 */
	assert_int_equal(shard_of("x.jpg", 0), 1);
	assert_int_equal(shard_of("x.jpg", -3), 1);
}

/* A file's shard depends on its name and N only: not on the other files, the order
 * they are seen in, or the imgpool version. The values below are pinned: an array
 * job run again after an upgrade must not reshuffle (and so redo) every file. */
static void test_stable(void **state)
{
	static const struct {
		const char *rel;
		int k[5];
	} pinned[] = {
		{"IMG_0001.jpg", {2, 2, 4, 8, 669992}},
		{"2024/07/IMG_4242.JPG", {2, 1, 2, 14, 49054}},
		{"a", {2, 2, 4, 16, 738720}},
		{"caf\xc3\xa9.png", {1, 2, 1, 1, 541249}},
		{"", {1, 2, 3, 3, 603139}},
	};
	static const int ns[] = {2, 3, 4, 16, 1000000};
	for (size_t i = 0; i < sizeof pinned / sizeof *pinned; i++)
		for (int t = 0; t < 5; t++)
			if (shard_of(pinned[i].rel, ns[t]) != pinned[i].k[t])
				fail_msg("'%s' moved to shard %d of %d", pinned[i].rel,
					 shard_of(pinned[i].rel, ns[t]), ns[t]);
	/* the same answers backwards and after other names */
	enum { FILES = 2000 };
	static int first[FILES];
	char name[64];
	for (int i = 0; i < FILES; i++) {
		name_of(i, name, sizeof name);
		first[i] = shard_of(name, 7);
	}
	for (int i = FILES - 1; i >= 0; i--) {
		name_of(i, name, sizeof name);
		assert_int_equal(shard_of(name, 7), first[i]);
	}
	/* the path relative to the root, byte for byte: another name is another file */
	int same = 0;
	for (int i = 0; i < 64; i++) {
		char a[32], b[32];
		snprintf(a, sizeof a, "dir/f%d.jpg", i);
		snprintf(b, sizeof b, "dir/f%d.JPG", i);
		same += shard_of(a, 1000000) == shard_of(b, 1000000);
	}
	assert_true(same < 4);
}

static void test_name(void **state)
{
	char buf[32];
	shard s = {2, 4, "--shard"};
	shard_name(&s, buf, sizeof buf);
	assert_string_equal(buf, "2-of-4");
	s = (shard){1000000, 1000000, "--shard"};
	shard_name(&s, buf, sizeof buf);
	assert_string_equal(buf, "1000000-of-1000000");
	s = (shard){0, 0, "none"};
	shard_name(&s, buf, sizeof buf);
	assert_string_equal(buf, "all");
	char tiny[4];
	s = (shard){12, 34, "--shard"};
	shard_name(&s, tiny, sizeof tiny);
	assert_string_equal(tiny, "12-");
	/* a resolved shard names the journal file of its run */
	assert_int_equal(shard_resolve("3/8", 0, &s, msg, sizeof msg), 0);
	shard_name(&s, buf, sizeof buf);
	assert_string_equal(buf, "3-of-8");
}

static void test_cpus(void **state)
{
	cpu_set_t set;
	assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
	assert_int_equal(shard_cpus(), CPU_COUNT(&set));
	setenv("SLURM_CPUS_PER_TASK", "3", 1);
	assert_int_equal(shard_cpus(), 3);
	setenv("SLURM_CPUS_PER_TASK", "4096", 1);
	assert_int_equal(shard_cpus(), 4096);
	static const char *const bad[] = {"0", "4097", "x", "", "-2", "2.5"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		setenv("SLURM_CPUS_PER_TASK", bad[i], 1);
		assert_int_equal(shard_cpus(), CPU_COUNT(&set));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_arg, clean_env),
		cmocka_unit_test_setup(test_arg_over_env, clean_env),
		cmocka_unit_test_setup(test_none, clean_env),
		cmocka_unit_test_setup(test_slurm, clean_env),
		cmocka_unit_test_setup(test_slurm_errors, clean_env),
		cmocka_unit_test_setup(test_messages_quote_the_value, clean_env),
		cmocka_unit_test_setup(test_arg_overflow, clean_env),
		cmocka_unit_test_setup(test_kubernetes, clean_env),
		cmocka_unit_test_setup(test_aws, clean_env),
		cmocka_unit_test_setup(test_split, clean_env),
		cmocka_unit_test_setup(test_stable, clean_env),
		cmocka_unit_test_setup(test_name, clean_env),
		cmocka_unit_test_setup(test_cpus, clean_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
