/* SPDX-License-Identifier: MIT */
/*
 * globs.h — the --include / --exclude rule for one path: fnmatch() globs, matched
 * ignoring case against the path relative to its PATH or any one name in it.
 */
#ifndef IMGPOOL_GLOBS_H
#define IMGPOOL_GLOBS_H

/* Does one of the n globs match rel, or the name of any of its parts: the file's
 * own name or a folder it lies in (so `--exclude 2024` leaves out the folder 2024
 * wherever it is, as rsync's patterns without a '/' do)? Case is ignored
 * (cameras name files IMG_0001.JPG, and `--include '*.jpg'` passing them over
 * would surprise), and '*' may match '/' in rel: 'trip*.jpg' also takes
 * trip/day1/a.jpg. */
int globs_match(const char *const *globs, int n, const char *rel);

/* What is wrong with glob as a pattern, in a few words, or NULL. An empty one
 * matches no name: --include '' quietly selected nothing (a variable left unset
 * in a script, say), and --exclude '' did nothing. A '[' that no
 * ']' closes is taken by fnmatch() as the character: --include '[' matched
 * nothing, a run of nothing to make, exit 0 (a cron job's typo unseen); so is
 * one whose only ']' ends a class ('[[:alpha:]*'), and '[[:alfa:]]' matches no
 * character at all. Options refuse them. An escaped one (\[) is the character. */
const char *globs_problem(const char *glob);

#endif
