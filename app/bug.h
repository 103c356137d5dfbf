/* SPDX-License-Identifier: MIT */
/*
 * bug.h — BUG(): a bookkeeping invariant broken, which only a bug in imgpool can do
 * (git's BUG()). It says where and aborts, in every build: going on with a wrong
 * count or a lost file is worse than stopping (the journal and the outputs stay
 * consistent at any moment: a kill is what they are made to survive).
 */
#ifndef IMGPOOL_BUG_H
#define IMGPOOL_BUG_H

#define BUG(...) bug_at(__FILE__, __LINE__, __VA_ARGS__)

_Noreturn void bug_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
