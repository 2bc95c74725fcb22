/* plugin.cc: a C++ library that override_test.c loads with dlopen and
 * RTLD_LOCAL, so that its operator new (the library's, override_new.cc)
 * runs in a C program whose global scope has no C++ runtime (ON4).
 *
 * Owns: plugin_new, a throwing new[] of n bytes.
 * Locking: none.
 */
#include <cstddef>

extern "C" __attribute__((visibility("default"))) void *plugin_new(std::size_t n)
{
	return new char[n];
}
