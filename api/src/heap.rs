//! Giving freed heap memory back to the system at a quiet moment.
//!
//! Every HTTP worker builds the route descriptions (the OpenAPI paths of every operation) while
//! it registers its routes, and drops them at once. glibc keeps pages freed by a thread in that
//! thread's arena for the life of the process, which left about 10 MB per worker resident in an
//! idle instance. Trimming once, right after a worker has registered its routes, returns them.

/// Returns the allocator's free pages to the kernel (glibc's `malloc_trim`); elsewhere nothing.
/// It briefly locks every arena in turn, so call it only where nothing is being served yet.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_freed_memory() {
    // SAFETY: `malloc_trim` has no preconditions: it only hands pages that are already free
    // back to the kernel and never touches a live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl, macOS, Windows) do not keep freed pages per thread this way.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed_memory() {}
