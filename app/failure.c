/* SPDX-License-Identifier: MIT */
/*
 * failure.c — names of the failure kinds. See failure.h.
 */
#include "failure.h"

static const char *const names[FAIL_KIND_COUNT] = {
	[FAIL_NONE] = "",
	[FAIL_DECODE] = "decode",
	[FAIL_LIMIT] = "limit",
	[FAIL_OUTPUT] = "output",
	[FAIL_CRASH] = "crash",
	[FAIL_TIMEOUT] = "timeout",
	[FAIL_INTERRUPTED] = "interrupted",
	[FAIL_ENVIRONMENT] = "environment",
	[FAIL_EARLIER] = "failed-earlier",
};

const char *failure_name(failure_kind k)
{
	return k >= 0 && k < FAIL_KIND_COUNT ? names[k] : "";
}

int failure_remembered_at_once(failure_kind k)
{
	return k == FAIL_DECODE || k == FAIL_LIMIT || k == FAIL_CRASH;
}
