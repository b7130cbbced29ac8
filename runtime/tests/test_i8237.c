// Tests of the 8237A DMA controllers' register file (dev/i8237.c).
#include "unit.h"

#include "i8237.h"

static struct i8237 d;

TEST(dma1_after_master_clear_all_masked)
{
    i8237_init(&d, 0);
    CHECK_EQ(i8237_read(&d, DMA_REQUEST), 0xff);   // the mask, as QEMU reads it there
    CHECK_EQ(i8237_read(&d, DMA_STATUS), 0);
    for (unsigned r = DMA_SINGLE_MASK; r <= DMA_WRITE_MASK; r++)
        CHECK_EQ(i8237_read(&d, r), 0);             // write-only
}

TEST(dma2_cascade_channel_unmasked)
{
    i8237_init(&d, 1);
    CHECK_EQ(i8237_read(&d, DMA_REQUEST), 0xfe);
    CHECK_EQ(d.ch[0].mode, 0xc0);
}

TEST(address_and_count_through_the_flip_flop)
{
    i8237_init(&d, 0);
    i8237_write(&d, DMA_CLEAR_FF, 0);
    i8237_write(&d, DMA_CH_ADDR(2), 0x34);
    i8237_write(&d, DMA_CH_ADDR(2), 0x12);
    i8237_write(&d, DMA_CH_COUNT(2), 0xff);
    i8237_write(&d, DMA_CH_COUNT(2), 0x01);
    CHECK_EQ(i8237_read(&d, DMA_CH_ADDR(2)), 0x34);
    CHECK_EQ(i8237_read(&d, DMA_CH_ADDR(2)), 0x12);
    CHECK_EQ(i8237_read(&d, DMA_CH_COUNT(2)), 0xff);
    CHECK_EQ(i8237_read(&d, DMA_CH_COUNT(2)), 0x01);
    // A read toggles the flip-flop too: now the high byte comes first.
    CHECK_EQ(i8237_read(&d, DMA_CH_ADDR(2)), 0x34);
    CHECK_EQ(i8237_read(&d, DMA_CH_COUNT(2)), 0x01);
    i8237_write(&d, DMA_MASTER_CLEAR, 0);
    CHECK_EQ(i8237_read(&d, DMA_CH_ADDR(2)), 0x34);  // master clear resets the flip-flop
}

TEST(address_reads_back_once_both_bytes_are_written)
{
    i8237_init(&d, 0);
    i8237_write(&d, DMA_CH_ADDR(1), 0x78);
    CHECK_EQ(i8237_read(&d, DMA_CH_ADDR(1)), 0);      // flip-flop now at the high byte
    i8237_write(&d, DMA_CLEAR_FF, 0);
    CHECK_EQ(i8237_read(&d, DMA_CH_ADDR(1)), 0);
}

TEST(masks)
{
    i8237_init(&d, 0);
    i8237_write(&d, DMA_CLEAR_MASK, 0);
    CHECK_EQ(i8237_read(&d, DMA_REQUEST), 0);
    i8237_write(&d, DMA_SINGLE_MASK, 4 | 2);
    CHECK_EQ(i8237_read(&d, DMA_REQUEST), 0x04);
    i8237_write(&d, DMA_SINGLE_MASK, 2);
    CHECK_EQ(i8237_read(&d, DMA_REQUEST), 0);
    i8237_write(&d, DMA_WRITE_MASK, 0x0a);
    CHECK_EQ(i8237_read(&d, DMA_REQUEST), 0x0a);
}

TEST(request_bits_in_status)
{
    i8237_init(&d, 0);
    i8237_write(&d, DMA_REQUEST, 4 | 3);
    CHECK_EQ(i8237_read(&d, DMA_STATUS), 0x80);
    i8237_write(&d, DMA_REQUEST, 3);
    CHECK_EQ(i8237_read(&d, DMA_STATUS), 0);
}

TEST(page_registers)
{
    i8237_init(&d, 0);
    CHECK_EQ(i8237_page_channel(7), 0);
    CHECK_EQ(i8237_page_channel(3), 1);
    CHECK_EQ(i8237_page_channel(1), 2);
    CHECK_EQ(i8237_page_channel(2), 3);
    CHECK_EQ(i8237_page_channel(4), -1);
    i8237_page_write(&d, 2, 0x5a);
    CHECK_EQ(i8237_page_read(&d, 2), 0x5a);
    CHECK_EQ(d.ch[3].page, 0x5a);
}
