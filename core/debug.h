/*
 * debug.h - the three kinds of check, never mixed (STYLE.md):
 *   - bad bytes from disk     -> return CT_CORRUPT through CT__CORRUPT(pgno),
 *     which logs file, line and page in debug builds (a breakpoint on
 *     ct__corrupt_report catches every corruption report);
 *   - caller misuse           -> return CT_INVALID;
 *   - our own invariants      -> CT_ASSERT, on in debug builds (CT_DEBUG),
 *     compiled out in release. The library never aborts at run time on a
 *     runtime condition: CT_ASSERT only guards programming errors.
 */
#ifndef CT_CORE_DEBUG_H
#define CT_CORE_DEBUG_H

#include <stdint.h>

#include "cowtree.h"

int ct__corrupt_report(const char *file, int line, uint64_t pgno, const char *why);

#define CT__CORRUPT(pgno, why) ct__corrupt_report(__FILE__, __LINE__, (uint64_t)(pgno), (why))
/* The page of this thread's latest corruption report (recovery names the
   page that made it reject a commit). */
uint64_t ct__last_corrupt_pgno(void);

#if defined(CT_DEBUG) && CT_DEBUG
/* CMake's RelWithDebInfo defines NDEBUG, but the simulator and property
   builds are optimized CT_DEBUG builds that must keep these checks. */
#undef NDEBUG
#include <assert.h>
#define CT_ASSERT(cond) assert(cond)
#else
#define CT_ASSERT(cond) ((void)0)
#endif

#endif
