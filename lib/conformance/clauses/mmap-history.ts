/**
 * The kernel history of the `mmap.` clauses, each range no wider than its evidence (./unfixed.ts): the 6.7
 * read-only shared mappings of F_SEAL_WRITE memfds with their 2025 stable backports and the 6.12.0–6.12.8
 * regression, hugetlbfs and F_SEAL_FUTURE_WRITE before 5.13, private mappings before 5.5, and the 5.12
 * hugetlbfs fork.
 */
import type { KnownBehaviour, Observation } from '../types'
import { unfixed } from './unfixed'

/** Before the 6.7 series every MAP_SHARED mapping of an fd open for writing counted as writable. */
export const RO_SHARED_UNFIXED = (since: string): string =>
  unfixed({ since, mainline: '6.7', stable: { '5.4': '5.4.297', '5.10': '5.10.241', '5.15': '5.15.190', '6.1': '6.1.149', '6.6': '6.6.103' } })
export const RO_SHARED_REF =
  'The 6.7 series: "mm: drop the assumption that VM_SHARED always implies writable", "mm: update memfd seal write check to include F_SEAL_WRITE", 158978945f31 "mm: perform the mapping_map_writable() check after call_mmap()"; backported with 8ec396d05d1b by Isaac J. Manjarres (2025) to 5.4.297, 5.10.241, 5.15.190, 6.1.149 and 6.6.103 (their stable queues)'
export const roSharedHistory = (since: string): KnownBehaviour[] => [
  {
    range: RO_SHARED_UNFIXED(since),
    observed: { errno: 'EPERM' },
    behaviour:
      'Before the 6.7 series (and on the stable trees before its 2025 backport) every MAP_SHARED mapping through an fd open for writing counted as writable, so even PROT_READ failed with EPERM.',
    ref: RO_SHARED_REF,
  },
  {
    range: '>=6.12 <6.12.9',
    observed: { errno: 'EPERM' },
    behaviour:
      'Regression: 5de195060b2e moved the check so that read-only shared mappings of F_SEAL_WRITE memfds failed with EPERM again in 6.12.0–6.12.8 (and 6.13-rc1…rc5, which versions do not tell apart from 6.13); fixed by 8ec396d05d1b in 6.13-rc6 and 6.12.9.',
    ref: 'regression 5de195060b2e "mm: resolve faulty mmap_region() error path behaviour"; fix 8ec396d05d1b "mm: reinstate ability to map write-sealed memfd mappings read-only"; selftest ea0916e01d0b',
  },
]

/** hugetlbfs ignored F_SEAL_FUTURE_WRITE in mmap until 22247efd822e. */
export const HUGE_FUTURE_WRITE_UNFIXED = unfixed({
  since: '5.1',
  mainline: '5.13',
  stable: { '5.4': '5.4.120', '5.10': '5.10.38', '5.11': '5.11.22', '5.12': '5.12.5' },
})
export const hugeFutureWriteHistory = (observed: Observation): KnownBehaviour[] => [
  {
    range: HUGE_FUTURE_WRITE_UNFIXED,
    observed,
    behaviour:
      'Before 22247efd822e hugetlbfs_file_mmap() ignored F_SEAL_FUTURE_WRITE: new writable shared mappings were made and read-only ones kept VM_MAYWRITE. Fixed in 5.13, 5.4.120, 5.10.38, 5.11.22 and 5.12.5 (their stable queues and releases).',
    ref: '22247efd822e "mm/hugetlb: fix F_SEAL_FUTURE_WRITE" (Peter Xu, 5.13; Cc stable)',
  },
]

/** Until 05d351102dbe shmem cleared VM_MAYWRITE on private mappings of F_SEAL_FUTURE_WRITE memfds too. */
export const SHMEM_PRIVATE_UNFIXED = unfixed({ since: '5.1', mainline: '5.5', unknown: ['5.3', '5.4'] })
export const shmemPrivateHistory = (observed: Observation): KnownBehaviour[] => [
  {
    range: SHMEM_PRIVATE_UNFIXED,
    observed,
    behaviour:
      'Until 05d351102dbe shmem_mmap() cleared VM_MAYWRITE on private mappings of F_SEAL_FUTURE_WRITE memfds too: such a mapping could not be made writable again, and lost copy-on-write at fork. 5.3.y and 5.4.y took the fix (December 2019) at releases not known here.',
    ref: '05d351102dbe "mm, memfd: fix COW issue on MAP_PRIVATE and F_SEAL_FUTURE_WRITE mappings" (5.5; Cc stable)',
  },
]

/**
 * From 4eae4efa2c29 (5.12) until 84894e1c42e9 a hugetlb fork gave the child a writable entry for the parent's
 * private page. Only mainline 5.12 is known to have had both; 5.12.5 took the fix.
 */
export const HUGE_COW_UNFIXED = unfixed({ since: '5.12', mainline: '5.13', stable: { '5.12': '5.12.5' } })
export const hugeCowHistory: KnownBehaviour[] = [
  {
    range: HUGE_COW_UNFIXED,
    observed: { store: 'ok', parent: 0x21, file: 0 },
    behaviour:
      '4eae4efa2c29 ("hugetlb: do early cow when page pinned on src mm", 5.12) read the parent\'s entry before write-protecting it and gave that writable entry to the child, whose store then landed in the parent\'s private page; 84894e1c42e9 fixed it in 5.13 and 5.12.5. Stable trees that took 4eae4efa2c29 are not known here, so only 5.12.0–5.12.4 are in this range.',
    ref: '84894e1c42e9 "mm/hugetlb: fix cow where page writtable in child" (Peter Xu, 5.13 and 5.12.5; Fixes 4eae4efa2c29; "This issue can also be exposed by memfd_test hugetlbfs kselftest.")',
  },
]
