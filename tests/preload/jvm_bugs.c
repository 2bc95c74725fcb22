/* jvm_bugs.c: heap bugs in a JNI library, for jvm.sh: a C library that
 * a Java program (JvmWork.java) calls, built by jvm.sh with the JDK's
 * jni.h and loaded by the JVM, never linked with heapward.
 *
 * Owns: nothing of heapward's. Java_JvmWork_overflow writes one byte past
 * a 13-byte object; Java_JvmWork_uaf writes to one after its free. The
 * lines that fault carry @markers, which jvm.sh finds for the file:line
 * the report must name.
 */
#include <jni.h>
#include <stdlib.h>

JNIEXPORT jlong JNICALL Java_JvmWork_overflow(JNIEnv *env, jclass cls)
{
	(void)env;
	(void)cls;
	volatile char *p = malloc(13);
	for (int i = 0; i < 13; i++)
		p[i] = (char)i;
	p[13] = 13; /* @overflow */
	free((void *)p);
	return 13;
}

JNIEXPORT jlong JNICALL Java_JvmWork_uaf(JNIEnv *env, jclass cls)
{
	(void)env;
	(void)cls;
	volatile char *p = malloc(13);
	p[0] = 1;
	free((void *)p);
	p[0] = 2; /* @uaf */
	return 0;
}
