/* SPDX-License-Identifier: MIT */
/*
 * outdir.h — the output folder: the ONLY code that creates, renames or deletes
 * anything beneath OUT.
 *
 * Guarantees (rsync's and git's rule: never write or delete outside the tree, never
 * delete what you do not track):
 *   - OUT is opened once, as a directory fd (O_DIRECTORY | O_NOFOLLOW). Every
 *     operation names a path RELATIVE to OUT ("2024/IMG_1_320.jpg"): only its parent
 *     folder is resolved, beneath OUT and through no symlink at all (openat2 with
 *     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; a per-component O_NOFOLLOW walk where
 *     openat2 is missing or refused, e.g. ENOSYS or EPERM under seccomp), then the
 *     slash-free leaf is acted on with the *at calls. A symlink anywhere beneath
 *     OUT, also one swapped in during the run, is never followed: the operation
 *     fails with ELOOP (reported as "a symlink").
 *   - New files appear only by renameat2(RENAME_NOREPLACE) of a complete temp file
 *     (linkat + unlinkat where the filesystem refuses the flag, e.g. NFS): an output
 *     is the whole new file or absent, and nothing existing is ever replaced by it.
 *   - Replacing or deleting a file first moves it into OUT/.imgpool/quarantine/,
 *     checks it there with fstat against the identity the caller expects (device,
 *     inode, size, mtime), and only then deletes it; a file that does not match is
 *     put back where it was. So a file changed or swapped between the caller's
 *     look and the act is never lost.
 *   - imgpool's own files live in OUT/.imgpool/ (never a symlink): the run locks,
 *     the journal, the workers' temp folder and the quarantine, all opened beneath
 *     that fd with O_NOFOLLOW.
 * What it does NOT decide: which files imgpool made (the journal knows, publish.c
 * asks it before calling here). This module acts; the caller proves ownership.
 *
 * Workers: the pool closes inherited descriptors, so a worker cannot inherit the
 * OUT fd. Workers never act beneath OUT: each opens the temp folder this module
 * made (outdir_tmp_path(), checked against outdir_tmp_ident()) in its initializer
 * and only creates new files there; the parent (publish.c) checks each one and
 * moves it into place with outdir_publish() / outdir_replace().
 *
 * Errors: functions return 0, or -1 with errno set (ELOOP: a symlink on the way or
 * at the leaf; EEXIST: something is already there; ESTALE: the file did not match
 * the expected identity and was put back; EXDEV: the temp folder and the target
 * are on different filesystems; OUTDIR_EMOVED: the folder it was put in, or taken
 * from, was moved out of OUT meanwhile, and the file went back; OUTDIR_EQMOVED:
 * the quarantine was; OUTDIR_ETEMP: the temp file was not the one made).
 * outdir_strerror()
 * words them for a report line.
 */
#ifndef IMGPOOL_OUTDIR_H
#define IMGPOOL_OUTDIR_H

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

/* A folder on the way was moved out of OUT while a file was put in it or taken
 * from it (an errno of its own: no other call here gives "remote address
 * changed"). */
#define OUTDIR_EMOVED EREMCHG
/* OUT/.imgpool/quarantine (or .imgpool) was moved out of OUT while a file was to
 * be put in it or deleted from it: nothing was, and the file is in its place. */
#define OUTDIR_EQMOVED ENOANO
/* The temp file to publish is not the one the worker made (another file, or not a
 * regular file, put at its name in the temp folder): nothing was moved. */
#define OUTDIR_ETEMP EBADE
/* Its folder left OUT, and taking the file back met another's file at its name,
 * whose name was then taken again: that file is kept in the quarantine, as
 * outdir_kept_name() names it (nothing ever removes it there). */
#define OUTDIR_EKEPT EBADSLT
#include <sys/types.h>

/* Name of imgpool's own folder inside OUT; never walked, never an output. */
#define OUTDIR_PRIVATE ".imgpool"

typedef struct outdir outdir;

/* Does path (an output folder's, or an output's path beneath one) go through a
 * folder named OUTDIR_PRIVATE, in any case (a case-insensitive filesystem takes
 * .IMGPOOL for it)? Such a folder is an output folder's own (its journal, temp
 * files, quarantine): imgpool makes no output folder and no output there. */
int outdir_in_private(const char *path);

/* What identifies one version of a file: the journal records it when imgpool makes
 * a file, and a file is "the one imgpool made" while size and mtime still match. */
typedef struct file_ident {
	uint64_t size;
	int64_t mtime_ns;
	uint64_t dev, ino;   /* 0, 0: unknown (compare size and mtime only) */
} file_ident;

/* The identity of a stat. */
file_ident outdir_ident_of(const struct stat *st);

/* Same size and mtime (and, when both know it, the same device and inode)? */
int outdir_ident_same(const file_ident *a, const file_ident *b);

/*
 * Open OUT. create: make it (and missing parents, by the path as given: what lies
 * above OUT is the user's choice) and OUT/.imgpool; otherwise (dry run) a missing
 * OUT or .imgpool is fine and nothing is created. OUT itself must be a real folder,
 * not a symlink to one (the message names the target to give instead). Returns NULL
 * with a one-line message in err.
 */
outdir *outdir_open(const char *path, int create, char *err, size_t errlen);

/* Close every descriptor; NULL is a no-op. */
void outdir_close(outdir *od);

/* Resolve with the per-component O_NOFOLLOW walk from now on, as on a kernel
 * without openat2 (the tests run every case both ways). */
void outdir_force_walk(outdir *od);

/* OUT as the user gave it (for messages), and its canonical path (for workers and
 * SQLite; NULL when OUT does not exist in a dry run). */
const char *outdir_path(const outdir *od);
const char *outdir_real(const outdir *od);

/* The fd of OUT, and of OUT/.imgpool (-1 when absent in a dry run). */
int outdir_fd(const outdir *od);
int outdir_private_fd(const outdir *od);

/* Did OUT/.imgpool exist before this run (imgpool has worked here)? */
int outdir_had_private(const outdir *od);

/* Does OUT hold nothing but .imgpool (0 too when it cannot be read)? */
int outdir_holds_only_private(const outdir *od);

/*
 * Take back a new output folder the run leaves empty: when outdir_open() made OUT
 * itself, OUT holds nothing but .imgpool and .imgpool nothing but regular files
 * for which is_own(name) holds (the journal's, the locks'; the temp folder is gone
 * by then, outdir_tmp_cleanup()), those files, .imgpool, OUT and the folders above
 * it that outdir_open() made are removed, innermost first, each folder only while
 * it is still the one made and empty. Anything else there keeps everything (a
 * mistyped PATH left ./thumbs/.imgpool behind; a thumbnail or a --report file in
 * OUT is kept). When OUT was there before the run but OUT/.imgpool was not (-o
 * given a photo folder by mistake), .imgpool and those files alone are removed,
 * on the same terms. 1 when OUT was taken away, else 0. Call it while the run's
 * lock is held; the descriptors stay open until outdir_close().
 */
int outdir_unmake(outdir *od, int (*is_own)(const char *name));

/* Open folder dir (a clean relative path) beneath folder base one component at a
 * time with O_NOFOLLOW (an O_PATH fd), making missing ones when create: the one
 * walk that never passes a symlink, for OUT's folders where openat2 is refused and,
 * read-only, for the input folders a walk found (thumb.c). -1 with errno; ELOOP
 * where a symlink is in the way. */
int outdir_walk_dirs(int base, const char *dir, int create);

/* lstat of rel beneath OUT, never through a symlink: 0 with *st, or -1 with errno
 * (ENOENT: absent; ELOOP: a symlink on the way). A symlink AT rel is stat'ed
 * itself (S_ISLNK). */
int outdir_stat(outdir *od, const char *rel, struct stat *st);

/* Could a file be put at rel now, as far as permissions tell: the deepest folder
 * on its way that is there beneath OUT (OUT at least) is a folder this process
 * may write and search (a read-only filesystem may not be written)? 1 or 0. */
int outdir_can_write(outdir *od, const char *rel);

/*
 * The folder that holds rel, beneath OUT through no symlink: a new O_PATH fd the
 * caller closes, and *leaf points at rel's last component. create: make missing
 * folders (mode 0777 less the umask). -1 with errno (EINVAL for a rel that is empty,
 * absolute, or has "", "." or ".." components).
 */
int outdir_parent(outdir *od, const char *rel, int create, const char **leaf);

/*
 * Make the workers' temp folder OUT/.imgpool/<name>/, flock()ed for the run, and
 * remove the temp files a killed run left there: the entries ours() says are
 * imgpool's (task_temp_name_ours(): a name only a worker gives); anything else is
 * someone's, and stays. Returns 0, or -1 with errno (EBUSY: another run holds it).
 */
int outdir_tmp_setup(outdir *od, const char *name, int (*ours)(const char *entry));
/* Its absolute path (for workers to open), its fd and identity (to check that
 * workers opened the same folder); the path is NULL before outdir_tmp_setup. */
const char *outdir_tmp_path(const outdir *od);
int outdir_tmp_fd(const outdir *od);
file_ident outdir_tmp_ident(const outdir *od);
/* Remove one temp file (a killed attempt's); ENOENT is success. */
int outdir_tmp_remove(outdir *od, const char *name);
/* Remove the temp files left (those ours() takes), then the folder if that
 * empties it. */
void outdir_tmp_cleanup(outdir *od);

/* The identity of temp file name (a regular file, not a link), or -1. */
int outdir_tmp_stat(outdir *od, const char *name, struct stat *st);

/* fsync temp file name (a regular file, opened read-only, never through a link)
 * in folder dirfd, the temp folder's (outdir_tmp_fd() or a dup of it, for a
 * thread that must not touch od, which the main thread may close meanwhile): its
 * bytes and size on disk before it is published. A writeback error of the worker
 * that wrote it is reported here. Returns 0, or -1 with errno. */
int outdir_sync_in(int dirfd, const char *name);

/* A file this run writes besides the thumbnails (its --report, which may be named
 * inside OUT, even at an output's path): outdir_kept() says so of it, and its
 * place is never an output's to take, replace or delete. At most
 * OUTDIR_KEPT_MAX; more are ignored. */
#define OUTDIR_KEPT_MAX 4
void outdir_keep(outdir *od, const struct stat *st);
int outdir_kept(const outdir *od, const struct stat *st);

/* Move temp file name to rel, creating rel's folders (again, when another process
 * removes one of them meanwhile, as a shard of the same array job removing the
 * folders its last output left empty does); never replaces anything (EEXIST when
 * rel exists). It is first given what a file made in rel's folder gets (its
 * setgid group, its default ACL): only the file made (its dev and inode), where
 * made is not NULL, and OUTDIR_ETEMP, nothing moved, where another file is at its
 * name in the temp folder. */
int outdir_publish(outdir *od, const char *tmp_name, const char *rel, const file_ident *made);

/*
 * Replace the file at rel, which the caller has proved imgpool made and which must
 * still be `expect`, with temp file tmp_name: move the old one to quarantine name
 * qname, check it, publish the new one, delete the old one. If the old one does not
 * match, it is put back and ESTALE returned; if publishing fails, it is put back
 * too. The caller records qname -> rel (write-ahead) before calling, so a kill
 * between the steps can be undone by outdir_restore(). made: as outdir_publish().
 * An old one gone meanwhile (or a folder on its way: the user moved it) leaves
 * nothing to replace: the new one is published as outdir_publish() does.
 */
int outdir_replace(outdir *od, const char *tmp_name, const char *rel,
		   const file_ident *expect, const char *qname, const file_ident *made);

/* Delete the file at rel if it is still `expect` (through the quarantine, as
 * outdir_replace), then the folders this leaves empty up to OUT. ESTALE: it did
 * not match and is back in place. */
int outdir_remove(outdir *od, const char *rel, const file_ident *expect, const char *qname);

/* The folders of rel that are empty now and that imgpool made
 * (outdir_record_folders()), deepest first, up to OUT: what outdir_remove() does
 * last, done again after a kill cut it short. The first that is not empty or not
 * imgpool's (the user's, made before a run put thumbnails in it, or made again
 * since at its path) stops it: that one and those above it stay. rmdir takes a
 * name, not an identity: an empty folder put at that path between the look and
 * the rmdir goes in its place (files go through the quarantine; moving a folder
 * aside to look at it would send a shard's publish into it "moved out of OUT"). */
void outdir_remove_empty_dirs(outdir *od, const char *rel);

/*
 * Which folders beneath OUT imgpool made (the journal's record): made() is told
 * of each folder outdir makes beneath OUT (rel: its path beneath OUT; id: its
 * io_identity()), before the folder is at its place where it can be (the folder
 * is made in the temp folder and renamed there: a kill leaves no folder made and
 * not recorded), after otherwise (a mount point on the way, no temp folder yet); 0,
 * or -1 when it could not be recorded (the folder is then made in place and told
 * again). ours() says whether folder rel of identity id is one made() was told of
 * (1), by this run or an earlier one (or, by a build before, as earlier: see
 * io_identities(); 0: none); removed() that folder rel (made() told of
 * it) is gone. Without a record (no journal, or r NULL) no folder beneath OUT is
 * imgpool's, and none is removed.
 */
typedef struct outdir_folder_record {
	int (*made)(void *data, const char *rel, uint64_t id);
	int (*ours)(void *data, const char *rel, uint64_t id, uint64_t earlier);
	void (*removed)(void *data, const char *rel);
	void *data;
} outdir_folder_record;
void outdir_record_folders(outdir *od, const outdir_folder_record *r);

/*
 * After a kill: quarantined file qname came from rel. If rel is free it goes back
 * there (returns 1); if rel is taken and the quarantined file is `owned` (matches
 * what imgpool recorded, or the caller passes NULL to keep it) it is deleted
 * (returns 2); otherwise it stays in the quarantine (returns 0). -1 on error; a
 * qname that is not there any more is 3, and 4 where putting it back met a file
 * not imgpool's that is kept now (OUTDIR_EKEPT: outdir_kept_name()).
 */
int outdir_restore(outdir *od, const char *qname, const char *rel, const file_ident *owned);

/* The name in OUT/.imgpool/quarantine of the last file OUTDIR_EKEPT kept. */
const char *outdir_kept_name(const outdir *od);

/* A quarantine name unique to this process: "q-<pid>-<n>". */
void outdir_quarantine_name(outdir *od, char *buf, size_t len);

/* Create or open regular file name in OUT/.imgpool (O_NOFOLLOW, never truncated,
 * never a link or a file with other hard links). fd or -1 with errno: ELOOP for a
 * symlink, ENODEV for a FIFO, device or folder, EMLINK for other hard links. */
int outdir_private_open(outdir *od, const char *name, int flags);

/* Rename old to new inside OUT/.imgpool (the journal's move-aside), never over a
 * file already there: -1 with EEXIST. */
int outdir_private_rename(outdir *od, const char *old_name, const char *new_name);

/* Give regular file name in OUT/.imgpool a copy of its own: when it has other hard
 * links (a backup made with `cp -al` or rsnapshot, a link planted to a file
 * elsewhere), its bytes go into a new file that then takes the name, so that what
 * is written there next reaches no other path. 0 (also when it has one link, or is
 * absent), or -1 with errno (ENODEV: not a regular file). Called under the run's
 * lock: the copies of name a killed run left (name.unshare-PID) are removed. */
int outdir_private_unshare(outdir *od, const char *name);

/* The names in OUT/.imgpool that start with prefix and end with suffix, sorted, in a
 * malloc'd NULL-terminated array (free it with outdir_names_free). NULL when there
 * is no .imgpool or memory ran out; an empty array when nothing matches. */
char **outdir_private_list(const outdir *od, const char *prefix, const char *suffix);
void outdir_names_free(char **names);

/* The canonical path of name in OUT/.imgpool, for libraries that take a path
 * (SQLite), after checking that the path still leads to the folder this module
 * holds. malloc'd; NULL when it does not. */
char *outdir_private_path(const outdir *od, const char *name);

/* Words for an errno of this module, e.g. "a symlink is in the way (never
 * followed)". */
const char *outdir_strerror(int err);

#endif
