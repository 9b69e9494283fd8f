/* The per-text arithmetic of hatespeech/core/model.py in C: four functions, each the compiled twin of one
 * Python function there, which stays as the reference and the fallback (model.py uses NumPy and Python when
 * this module cannot be imported).
 *
 *   sum_rows(table, ids)                        CompiledModel.sums_of, every id once: bit-identical
 *   proba3(total, scale, slopes, offsets)       CompiledModel.proba_from_sums, three classes: bit-identical
 *   rows_sums(table, rows, tf_mode)             CompiledModel._rows_sums: within rounding (its order of additions)
 *   gram_rows(vocab, word, low, high)           CompiledModel._rows_of_word, a word of letters: the same bytes
 *
 * Built with -ffp-contract=off (no fused multiply-adds: each product is rounded as Python rounds it) and libm's
 * exp, which math.exp calls. The table is read through the buffer protocol (a C-contiguous 2-D float64 array);
 * every row index is checked against it: an index outside the table raises IndexError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The table's buffer: 2-D, C-contiguous, native doubles. */
static int
get_table(PyObject *obj, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->ndim != 2 || view->itemsize != sizeof(double) || view->format == NULL ||
        strcmp(view->format, "d") != 0 || view->shape[1] < 1) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "table: a C-contiguous 2-D float64 array with at least one column");
        return -1;
    }
    return 0;
}

static PyObject *
list_of(const double *values, Py_ssize_t n)
{
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *f = PyFloat_FromDouble(values[j]);
        if (f == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, j, f);
    }
    return out;
}

/* A row index from a Python int, checked against the table's rows (no wrap-around of negative indices). */
static int
row_index(PyObject *item, Py_ssize_t rows, Py_ssize_t *out)
{
    if (!PyLong_Check(item)) {
        PyErr_SetString(PyExc_TypeError, "a row index must be an int");
        return -1;
    }
    Py_ssize_t i = PyLong_AsSsize_t(item);
    if (i == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        i = -1;  /* too large for Py_ssize_t: out of range below */
    }
    if (i < 0 || i >= rows) {
        PyErr_Format(PyExc_IndexError, "row %R outside a table of %zd rows", item, rows);
        return -1;
    }
    *out = i;
    return 0;
}

/* sum_rows(table, ids): np.add.reduce(table.take(ids, axis=0), 0).tolist() for a list of distinct ids.
 * NumPy reduces a C-contiguous block along axis 0 row by row, each column in turn: it starts from the first
 * row and adds the others in order, as here (tests/core/test_kernel.py checks every Davidson tweet). */
static PyObject *
sum_rows(PyObject *self, PyObject *args)
{
    PyObject *table, *ids;
    if (!PyArg_ParseTuple(args, "OO!:sum_rows", &table, &PyList_Type, &ids))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(ids);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "sum_rows: no ids");
        return NULL;
    }
    Py_buffer view;
    if (get_table(table, &view) < 0)
        return NULL;
    Py_ssize_t rows = view.shape[0], cols = view.shape[1];
    const double *data = (const double *)view.buf;
    PyObject *out = NULL;
    double *acc = PyMem_Malloc(cols * sizeof(double));
    if (acc == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i;
        if (row_index(PyList_GET_ITEM(ids, k), rows, &i) < 0)
            goto done;
        const double *row = data + i * cols;
        if (k == 0)
            memcpy(acc, row, cols * sizeof(double));
        else
            for (Py_ssize_t j = 0; j < cols; j++)
                acc[j] += row[j];
    }
    out = list_of(acc, cols);
done:
    PyMem_Free(acc);
    PyBuffer_Release(&view);
    return out;
}

/* The doubles of a list of floats (or ints, as Python's arithmetic converts them); n of them at most. */
static int
doubles_of(PyObject *list, Py_ssize_t n, double *out, const char *name)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (!PyFloat_Check(item) && !PyLong_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s: a list of floats", name);
            return -1;
        }
        out[i] = PyFloat_AsDouble(item);
        if (out[i] == -1.0 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

/* proba3(total, scale, slopes, offsets): proba_from_sums for three classes, the same expressions in the same
 * order: p = 1.0 / (1.0 + exp(t * scale * a + c)) for each (fold, class), then per fold s = x + y + z and
 * h += x / s ..., then [h / folds, o / folds, n / folds]. None where Python takes _proba_in_numpy: an exp
 * that overflows (math.exp's OverflowError), or a fold whose sigmoids sum to 0.0. */
static PyObject *
proba3(PyObject *self, PyObject *args)
{
    PyObject *total, *slopes, *offsets;
    double scale;
    if (!PyArg_ParseTuple(args, "O!dO!O!:proba3", &PyList_Type, &total, &scale, &PyList_Type, &slopes,
                          &PyList_Type, &offsets))
        return NULL;
    Py_ssize_t c = PyList_GET_SIZE(slopes);
    if (c == 0 || c % 3 != 0 || PyList_GET_SIZE(offsets) != c || PyList_GET_SIZE(total) < c) {
        PyErr_SetString(PyExc_ValueError, "proba3: 3 × folds slopes and offsets, and at least as many sums");
        return NULL;
    }
    PyObject *out = NULL;
    double *buf = PyMem_Malloc(3 * c * sizeof(double));
    if (buf == NULL)
        return PyErr_NoMemory();
    double *t = buf, *a = buf + c, *b = buf + 2 * c;
    if (doubles_of(total, c, t, "total") < 0 || doubles_of(slopes, c, a, "slopes") < 0 ||
        doubles_of(offsets, c, b, "offsets") < 0)
        goto done;
    double *p = t;  /* each t is read once, before its p is written */
    for (Py_ssize_t i = 0; i < c; i++) {
        double x = t[i] * scale;
        x = x * a[i];
        x = x + b[i];
        double e = exp(x);
        if (isinf(e) && isfinite(x)) {  /* math.exp raises OverflowError here */
            out = Py_NewRef(Py_None);
            goto done;
        }
        p[i] = 1.0 / (1.0 + e);
    }
    double h = 0.0, o = 0.0, n = 0.0;
    for (Py_ssize_t f = 0; f < c; f += 3) {
        double x = p[f], y = p[f + 1], z = p[f + 2];
        double s = x + y + z;
        if (s == 0.0) {
            out = Py_NewRef(Py_None);
            goto done;
        }
        h += x / s;
        o += y / s;
        n += z / s;
    }
    double folds = (double)(c / 3), mean[3] = {h / folds, o / folds, n / folds};
    out = list_of(mean, 3);
done:
    PyMem_Free(buf);
    return out;
}

static int
compare_rows(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* rows_sums(table, rows, tf_mode): _rows_sums before its norm. rows: int32 row indices (bytes); a row seen once
 * weighs 1, a row seen c > 1 times tf(c) (tf_mode 0: binary, 1.0; 1: sublinear, 1 + log c; 2: raw, c), once.
 * Returns (Σ weight × row as a list, the l2 norm's sum: the last column's Σ plus Σ (tf² - tf) × its value over
 * the repeated rows). Python sorts the rows to find the repeats; here two bitmaps over the table's rows (seen,
 * seen again) find them in linear time, and only the repeated rows are sorted (a German post: ~3 of ~200; qsort
 * of all 200 cost more than the sums). The order of additions differs from Python's (and BLAS's): the same sums
 * to rounding (tests/core/test_kernel.py: within 1e-12 on every training post). */
static PyObject *
rows_sums(PyObject *self, PyObject *args)
{
    PyObject *table;
    Py_buffer rows;
    int tf_mode;
    if (!PyArg_ParseTuple(args, "Oy*i:rows_sums", &table, &rows, &tf_mode))
        return NULL;
    PyObject *out = NULL;
    int32_t *found = NULL;
    double *acc = NULL;
    uint8_t *seen = NULL;
    Py_buffer view;
    int have_view = 0;
    if (rows.len == 0 || rows.len % (Py_ssize_t)sizeof(int32_t) != 0 || tf_mode < 0 || tf_mode > 2) {
        PyErr_SetString(PyExc_ValueError, "rows_sums: a non-empty whole number of int32 rows, tf_mode 0, 1 or 2");
        goto done;
    }
    if (get_table(table, &view) < 0)
        goto done;
    have_view = 1;
    Py_ssize_t n = rows.len / (Py_ssize_t)sizeof(int32_t), nrows = view.shape[0], cols = view.shape[1];
    Py_ssize_t bitmap = (nrows + 7) / 8;
    const double *data = (const double *)view.buf;
    found = PyMem_Malloc(rows.len);
    acc = PyMem_Calloc(cols, sizeof(double));
    seen = PyMem_Calloc(2 * bitmap, 1);  /* seen, then seen again (a repeated row) */
    if (found == NULL || acc == NULL || seen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    uint8_t *again = seen + bitmap;
    memcpy(found, rows.buf, rows.len);
    for (Py_ssize_t k = 0; k < n; k++) {
        int32_t r = found[k];
        if (r < 0 || r >= nrows) {
            PyErr_Format(PyExc_IndexError, "row %d outside a table of %zd rows", (int)r, nrows);
            goto done;
        }
        uint8_t bit = (uint8_t)(1u << (r & 7));
        if (seen[r >> 3] & bit)
            again[r >> 3] |= bit;
        else
            seen[r >> 3] |= bit;
    }
    Py_ssize_t m = 0;  /* the repeated rows' occurrences, moved to found's front (m <= k: none is overwritten) */
    for (Py_ssize_t k = 0; k < n; k++) {
        int32_t r = found[k];
        if (again[r >> 3] & (1u << (r & 7))) {
            found[m++] = r;
        } else {
            const double *row = data + (Py_ssize_t)r * cols;
            for (Py_ssize_t j = 0; j < cols; j++)
                acc[j] += row[j];
        }
    }
    qsort(found, m, sizeof(int32_t), compare_rows);
    double extra = 0.0;
    for (Py_ssize_t k = 0; k < m;) {
        Py_ssize_t end = k + 1;
        while (end < m && found[end] == found[k])
            end++;
        const double *row = data + (Py_ssize_t)found[k] * cols;
        double count = (double)(end - k);
        double tf = tf_mode == 0 ? 1.0 : tf_mode == 1 ? 1.0 + log(count) : count;
        for (Py_ssize_t j = 0; j < cols; j++)
            acc[j] += tf * row[j];
        extra += (tf * tf - tf) * row[cols - 1];
        k = end;
    }
    PyObject *sums = list_of(acc, cols);
    if (sums != NULL)
        out = Py_BuildValue("(Nd)", sums, acc[cols - 1] + extra);
done:
    PyMem_Free(found);
    PyMem_Free(acc);
    PyMem_Free(seen);
    if (have_view)
        PyBuffer_Release(&view);
    PyBuffer_Release(&rows);
    return out;
}

/* Appends vocab[key]'s row to rows (when key is in the vocabulary); -1 with an exception set on failure. */
static int
append_row(PyObject *vocab, PyObject *key, int32_t *rows, Py_ssize_t *n)
{
    PyObject *row = PyDict_GetItemWithError(vocab, key);  /* borrowed */
    if (row == NULL)
        return PyErr_Occurred() ? -1 : 0;
    long r = PyLong_AsLong(row);
    if (r == -1 && PyErr_Occurred())
        return -1;
    if (r < 0 || r > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "gram_rows: a vocabulary row outside int32");
        return -1;
    }
    rows[(*n)++] = (int32_t)r;
    return 0;
}

/* gram_rows(vocab, word, low, high): _rows_of_word's rows of a word of letters, as int32 bytes: the word's own row,
 * then for n = low..high each n-gram of "_word_" prefixed "0" ("0_du", "0dum", ...), left to right, where the
 * vocabulary has it. The same keys, looked up in the same order, as the Python loop: the same bytes (tested on
 * every word of the training posts). Python's cost was the loop around ~30 lookups a German word, not the lookups. */
#define MAX_GRAM 16
static PyObject *
gram_rows(PyObject *self, PyObject *args)
{
    PyObject *vocab, *word;
    int low, high;
    if (!PyArg_ParseTuple(args, "O!Uii:gram_rows", &PyDict_Type, &vocab, &word, &low, &high))
        return NULL;
    if (low < 1 || high < low || high > MAX_GRAM) {
        PyErr_Format(PyExc_ValueError, "gram_rows: n-grams from %d to %d characters (1 to %d)", low, high, MAX_GRAM);
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(word), marked_len = len + 2;
    Py_UCS4 *marked = PyMem_Malloc((size_t)marked_len * sizeof(Py_UCS4));
    int32_t *rows = PyMem_Malloc((size_t)(1 + (Py_ssize_t)(high - low + 1) * marked_len) * sizeof(int32_t));
    PyObject *out = NULL;
    Py_ssize_t n = 0;
    if (marked == NULL || rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (append_row(vocab, word, rows, &n) < 0 || PyUnicode_AsUCS4(word, marked + 1, len, 0) == NULL)
        goto done;
    marked[0] = marked[marked_len - 1] = '_';
    Py_UCS4 gram[MAX_GRAM + 1] = {'0'};
    for (int size = low; size <= high; size++) {
        for (Py_ssize_t i = 0; i + size <= marked_len; i++) {
            memcpy(gram + 1, marked + i, (size_t)size * sizeof(Py_UCS4));
            PyObject *key = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, gram, size + 1);  /* "0" + slice */
            if (key == NULL)
                goto done;
            int failed = append_row(vocab, key, rows, &n);
            Py_DECREF(key);
            if (failed < 0)
                goto done;
        }
    }
    out = PyBytes_FromStringAndSize((const char *)rows, n * (Py_ssize_t)sizeof(int32_t));
done:
    PyMem_Free(marked);
    PyMem_Free(rows);
    return out;
}

static PyMethodDef methods[] = {
    {"sum_rows", sum_rows, METH_VARARGS, "sum_rows(table, ids) -> list: the sum of the table's rows ids, in order."},
    {"proba3", proba3, METH_VARARGS,
     "proba3(total, scale, slopes, offsets) -> list | None: three classes' probabilities, or None (use NumPy)."},
    {"rows_sums", rows_sums, METH_VARARGS,
     "rows_sums(table, rows, tf_mode) -> (list, float): tf-weighted sum of int32 rows, and the l2 norm's sum."},
    {"gram_rows", gram_rows, METH_VARARGS,
     "gram_rows(vocab, word, low, high) -> bytes: a word's row and its marked character n-grams' rows, as int32."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel", "The per-text arithmetic of hatespeech.core.model in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__kernel(void)
{
    return PyModule_Create(&module);
}
