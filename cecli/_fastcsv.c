/* cecli._fastcsv: the records of a plain all-number CSV block as float64 columns.
 *
 * A block of whole records (cecli.files cuts them) where every field is a decimal number
 * short enough to be converted exactly: then each value is the correctly rounded float64 of
 * the field, as polars and Python's float() give it, at about twice the speed of polars'
 * general reader on two cores.  Anything else in the block (a quote, a space, a carriage
 * return, an empty field or line, a record with too many or too few fields, inf or nan, a
 * number of more than 19 digits or one the fast conversion cannot round exactly, bytes that
 * are not ASCII) and the block is refused whole: the caller reads it with polars, which says
 * what is wrong and where.  So this never decides what a field means, only that it is the
 * one simple case.
 *
 * A field is  [+-]? digits ( '.' digits? )? ( [eE] [+-]? digits )?  or the same with no
 * digits before the point, which is a subset of cecli.inputs.NUMBER_BODY.  With m the
 * digits as an integer (at most 19 of them, leading zeros counted) and 10^k the scale,
 * m <= 2^53 and |k| <= 22 make both m and 10^|k| exact doubles, so one IEEE multiplication
 * or division rounds correctly (Clinger, "How to read floating point numbers accurately",
 * 1990).  Other fields refuse the block.
 *
 * The GIL is released while a block is read: two blocks are read at once on two cores.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static const double POWERS_OF_TEN[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
static const uint64_t INTEGER_POWERS_OF_TEN[9] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
};
#define MOST_DIGITS 19 /* 10^19 - 1 < 2^64: m never overflows before it is refused */

/* The value of eight ASCII digits, the first in the lowest byte (Lemire's SWAR method). */
static inline uint32_t eight_digits(uint64_t chunk) {
    const uint64_t mask = 0x000000FF000000FFULL;
    const uint64_t mul1 = 0x000F424000000064ULL; /* 100 + (1000000ULL << 32) */
    const uint64_t mul2 = 0x0000271000000001ULL; /* 1 + (10000ULL << 32) */
    chunk -= 0x3030303030303030ULL;
    chunk = (chunk * 10) + (chunk >> 8);
    chunk = (((chunk & mask) * mul1) + (((chunk >> 16) & mask) * mul2)) >> 32;
    return (uint32_t)chunk;
}

/* How many of the 8 bytes of chunk (first in the lowest byte) are digits before the first
 * byte that is not one.  A byte of 0xFA or more carries into the next byte's test, which
 * only ever comes after the first non-digit, so the count is right. */
static inline int leading_digits(uint64_t chunk) {
    uint64_t high = (chunk & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL;
    uint64_t low = ((chunk + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL;
    uint64_t other = high | low; /* a byte is non-zero where it is not a digit */
    uint64_t flags = (((other & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL) | other)
                     & 0x8080808080808080ULL;
    return flags ? __builtin_ctzll(flags) >> 3 : 8;
}

/* The 8 bytes at p as one integer, the first in the lowest byte, as the two functions above
 * take them, on any byte order (a big-endian load read the digits backwards: 12345678 was
 * read as 87654321). */
static inline uint64_t load_eight(const char *p) {
    uint64_t chunk;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&chunk, p, 8);
#else
    chunk = 0;
    for (int i = 0; i < 8; i++) {
        chunk |= (uint64_t)(unsigned char)p[i] << (8 * i);
    }
#endif
    return chunk;
}

/* Reads the digits at *at into *m (m * 10^count + their value) and returns their count; stops
 * early, past MOST_DIGITS, where the caller refuses the field. */
static inline int read_digits(const char **at, const char *end, uint64_t *m) {
    const char *p = *at;
    int count = 0;
    while (end - p >= 8) {
        uint64_t chunk = load_eight(p);
        int run = leading_digits(chunk);
        if (run == 8) {
            *m = *m * 100000000ULL + eight_digits(chunk);
        } else if (run > 0) {
            /* The run's digits moved to the top bytes, '0's below them. */
            uint64_t aligned = (chunk << (8 * (8 - run))) | (0x3030303030303030ULL >> (8 * run));
            *m = *m * INTEGER_POWERS_OF_TEN[run] + eight_digits(aligned);
        }
        p += run;
        count += run;
        if (run < 8 || count > MOST_DIGITS) {
            *at = p;
            return count;
        }
    }
    while (p < end && (unsigned char)(*p - '0') < 10 && count <= MOST_DIGITS) {
        *m = *m * 10 + (uint64_t)(*p - '0');
        p++;
        count++;
    }
    *at = p;
    return count;
}

/* Reads one number field at *at; 0 if it is not in the simple form (the block is refused). */
static inline int read_number(const char **at, const char *end, double *value) {
    const char *p = *at;
    int negative = 0;
    if (p < end && (*p == '-' || *p == '+')) {
        negative = *p == '-';
        p++;
    }
    uint64_t m = 0;
    int digits = read_digits(&p, end, &m), scale = 0;
    if (p < end && *p == '.') {
        p++;
        int fraction = read_digits(&p, end, &m);
        digits += fraction;
        scale = -fraction;
    }
    if (digits == 0 || digits > MOST_DIGITS) {
        return 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int exponent_negative = 0, exponent = 0;
        if (p < end && (*p == '-' || *p == '+')) {
            exponent_negative = *p == '-';
            p++;
        }
        const char *exponent_start = p;
        while (p < end && (unsigned char)(*p - '0') < 10) {
            if (exponent < 100000) {
                exponent = exponent * 10 + (*p - '0');
            }
            p++;
        }
        if (p == exponent_start) {
            return 0;
        }
        scale += exponent_negative ? -exponent : exponent;
    }
    double magnitude;
    if (m == 0) {
        magnitude = 0.0; /* 0, 0.000, 0e999: zero at any scale */
    } else if (m <= (1ULL << 53) && scale >= -22 && scale <= 22) {
        magnitude = scale < 0 ? (double)m / POWERS_OF_TEN[-scale] : (double)m * POWERS_OF_TEN[scale];
    } else {
        return 0;
    }
    *value = negative ? -magnitude : magnitude;
    *at = p;
    return 1;
}

/* The number of records read into out (columns × capacity, by columns), or -1. */
static Py_ssize_t read_block(const char *data, Py_ssize_t size, Py_ssize_t columns,
                             char separator, double *out, Py_ssize_t capacity) {
    const char *p = data, *end = data + size;
    Py_ssize_t row = 0;
    while (p < end) {
        if (row >= capacity) {
            return -1;
        }
        for (Py_ssize_t column = 0; column < columns; column++) {
            double value;
            if (!read_number(&p, end, &value)) {
                return -1;
            }
            out[column * capacity + row] = value;
            if (column + 1 < columns) {
                if (p >= end || *p != separator) {
                    return -1; /* too few fields, or a field that goes on */
                }
            } else if (p < end && *p != '\n') {
                return -1; /* too many fields, a carriage return, or a field that goes on */
            }
            if (p < end) {
                p++; /* past the separator or line break */
            }
        }
        row++;
    }
    return row;
}

static PyObject *parse_floats(PyObject *module, PyObject *args) {
    (void)module;
    const char *data;
    Py_ssize_t size, columns, rows;
    PyObject *target;
    Py_buffer out;
    int separator;
    if (!PyArg_ParseTuple(args, "y#OCnn:parse_floats", &data, &size, &target, &separator,
                          &columns, &rows)) {
        return NULL;
    }
    /* float64 in C order: a buffer of the right size but of other items (int64, two float32
     * per value) would be given bit patterns that mean something else to its owner. */
    if (PyObject_GetBuffer(target, &out, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_C_CONTIGUOUS)
        != 0) {
        return NULL;
    }
    const char *format = out.format == NULL ? "B" : out.format;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const char *own_order = "@=<";
#else
    const char *own_order = "@=";
#endif
    if (format[0] != '\0' && strchr(own_order, format[0]) != NULL) {
        format++; /* this machine's byte order, said explicitly */
    }
    if (out.itemsize != (Py_ssize_t)sizeof(double) || strcmp(format, "d") != 0) {
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_TypeError, "parse_floats: out must be a buffer of float64");
        return NULL;
    }
    /* rows is bounded first, so that columns × rows × 8 cannot overflow (it wrapped to the
     * size of a small buffer, and the reader then wrote far past it). */
    if (columns < 1 || rows < 0 || rows > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(double) / columns
        || out.len != columns * rows * (Py_ssize_t)sizeof(double)
        || (uintptr_t)out.buf % _Alignof(double) != 0 || separator > 127
        || strchr("0123456789+-.eE\"\r\n", separator) != NULL
        || separator == 0) {
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError,
                        "parse_floats: out must hold columns × rows float64 values (and be "
                        "aligned for them), and the separator must be ASCII and not part of a "
                        "number");
        return NULL;
    }
    Py_ssize_t read;
    Py_BEGIN_ALLOW_THREADS
    read = read_block(data, size, columns, (char)separator, (double *)out.buf, rows);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    return PyLong_FromSsize_t(read);
}

static PyObject *line_breaks(PyObject *module, PyObject *args) {
    (void)module;
    const char *data;
    Py_ssize_t size, count = 0;
    if (!PyArg_ParseTuple(args, "y#:line_breaks", &data, &size)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    /* memchr is the C library's vector search: ten times bytes.count(b"\n") here. */
    const char *p = data, *end = data + size;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        count++;
        p++;
    }
    Py_END_ALLOW_THREADS
    return PyLong_FromSsize_t(count);
}

static PyMethodDef methods[] = {
    {"line_breaks", line_breaks, METH_VARARGS,
     "line_breaks(data) -> the number of b'\\n' in data"},
    {"parse_floats", parse_floats, METH_VARARGS,
     "parse_floats(data, out, separator, columns, rows) -> records read, or -1\n\n"
     "Read a block of whole CSV records, every field a plain decimal number, into out\n"
     "(a C-contiguous float64 buffer of columns x rows, by columns); -1 if the block is\n"
     "not of that simple form, and out is then partly written."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT, "cecli._fastcsv",
    "The records of a plain all-number CSV block as float64 columns.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastcsv(void) { return PyModule_Create(&module_definition); }
