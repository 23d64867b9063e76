/*
 * readers.c - the reader table and the single-writer lock.
 * Readers pin the snapshot (txn id) they read; the writer asks for the
 * oldest pinned snapshot to decide which freed pages it may reuse. Readers
 * never wait for the writer: they only take db->mu briefly at begin/end.
 */
#include "internal.h"

uint64_t ct__readers_oldest(const ct_db *db)
{
    uint64_t oldest = UINT64_MAX;
    for (const ct_txn *r = db->readers; r; r = r->next_reader) {
        if (r->meta.txnid < oldest) {
            oldest = r->meta.txnid;
        }
    }
    return oldest;
}

void ct__readers_add(ct_db *db, ct_txn *t)
{
    t->prev_reader = NULL;
    t->next_reader = db->readers;
    if (db->readers) {
        db->readers->prev_reader = t;
    }
    db->readers = t;
    db->reader_count++;
}

void ct__readers_remove(ct_db *db, ct_txn *t)
{
    if (t->prev_reader) {
        t->prev_reader->next_reader = t->next_reader;
    } else {
        db->readers = t->next_reader;
    }
    if (t->next_reader) {
        t->next_reader->prev_reader = t->prev_reader;
    }
    t->next_reader = NULL;
    t->prev_reader = NULL;
    db->reader_count--;
}

int ct__writer_acquire(ct_db *db)
{
    pthread_t self = pthread_self();
    pthread_mutex_lock(&db->mu);
    while (db->writer_active) {
        if (pthread_equal(db->writer_thread, self)) {
            pthread_mutex_unlock(&db->mu);
            return CT_INVALID;
        }
        db->writers_waiting++;
        pthread_cond_wait(&db->write_cv, &db->mu);
        db->writers_waiting--;
    }
    db->writer_active = 1;
    db->writer_thread = self;
    pthread_mutex_unlock(&db->mu);
    return CT_OK;
}

void ct__writer_release(ct_db *db)
{
    pthread_mutex_lock(&db->mu);
    db->writer_active = 0;
    pthread_cond_signal(&db->write_cv);
    pthread_mutex_unlock(&db->mu);
}
