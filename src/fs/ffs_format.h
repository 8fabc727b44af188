/*
 * ffs_format.h - on-disk layout of the Berkeley Fast File System (UFS1/UFS2).
 *
 * Only what the read-only reader needs.  Structures are described by byte
 * offsets rather than C structs so that decoding is independent of host
 * alignment, padding and byte order.
 */
#ifndef XVM_FFS_FORMAT_H
#define XVM_FFS_FORMAT_H

/* Superblock locations probed, in order (UFS2 standard first, then UFS1/makefs). */
#define FFS_SBLOCK_UFS2 65536u
#define FFS_SBLOCK_UFS1 8192u
/* Bytes of the superblock the reader decodes (up to and including fs_magic). */
#define FFS_SB_READ_LEN 1376u

#define FFS_UFS1_MAGIC 0x00011954u
#define FFS_UFS2_MAGIC 0x19540119u

/* Superblock field offsets (int32 unless noted). */
#define FFS_SB_SBLKNO        8
#define FFS_SB_CBLKNO        12
#define FFS_SB_IBLKNO        16
#define FFS_SB_DBLKNO        20
#define FFS_SB_OLD_CGOFFSET  24
#define FFS_SB_OLD_CGMASK    28
#define FFS_SB_OLD_SIZE      36
#define FFS_SB_NCG           44
#define FFS_SB_BSIZE         48
#define FFS_SB_FSIZE         52
#define FFS_SB_FRAG          56
#define FFS_SB_BSHIFT        80
#define FFS_SB_FSHIFT        84
#define FFS_SB_FRAGSHIFT     96
#define FFS_SB_NINDIR        116
#define FFS_SB_INOPB         120
#define FFS_SB_IPG           184
#define FFS_SB_FPG           188
#define FFS_SB_OLD_FLAGS     211  /* uint8 */
#define FFS_SB_SBLOCKLOC     1000 /* int64, UFS2 */
#define FFS_SB_SIZE          1080 /* int64: fs size in frags */
#define FFS_SB_MAXSYMLINKLEN 1320
#define FFS_SB_OLD_INODEFMT  1324
#define FFS_SB_MAGIC         1372

/* fs_old_flags: the 64-bit fields (fs_size...) are authoritative on UFS1. */
#define FFS_FLAGS_UPDATED 0x80u
/* fs_old_inodefmt value of 4.4BSD inodes / directories (d_type present). */
#define FFS_44INODEFMT 2

/* Inode numbers and addressing. */
#define FFS_ROOTINO 2u
#define FFS_NDADDR  12u
#define FFS_NIADDR  3u

/* UFS1 dinode (128 bytes). */
#define FFS_DINODE1_SIZE  128u
#define FFS_DI1_MODE      0   /* uint16 */
#define FFS_DI1_NLINK     2   /* int16 */
#define FFS_DI1_SIZE      8   /* uint64 */
#define FFS_DI1_DB        40  /* int32[12] */
#define FFS_DI1_IB        88  /* int32[3] */
#define FFS_DI1_BLOCKS    104 /* uint32, DEV_BSIZE units */
#define FFS_DI1_SHORTLINK 40  /* fast symlink text lives over db/ib */

/* UFS2 dinode (256 bytes). */
#define FFS_DINODE2_SIZE  256u
#define FFS_DI2_MODE      0   /* uint16 */
#define FFS_DI2_NLINK     2   /* int16 */
#define FFS_DI2_SIZE      16  /* uint64 */
#define FFS_DI2_BLOCKS    24  /* uint64, DEV_BSIZE units */
#define FFS_DI2_DB        112 /* int64[12] */
#define FFS_DI2_IB        208 /* int64[3] */
#define FFS_DI2_SHORTLINK 112

#define FFS_DEV_BSIZE 512u
/* Largest fast-symlink area: (NDADDR + NIADDR) * sizeof(block pointer). */
#define FFS_MAXSYMLINKLEN_UFS1 60
#define FFS_MAXSYMLINKLEN_UFS2 120

/* Inode mode bits. */
#define FFS_IFMT  0170000u
#define FFS_IFDIR 0040000u
#define FFS_IFREG 0100000u
#define FFS_IFLNK 0120000u

/* Directory entry: header then name, NUL padded to a 4-byte multiple. */
#define FFS_DIRBLKSIZ     512u
#define FFS_DIRENT_INO    0 /* uint32 */
#define FFS_DIRENT_RECLEN 4 /* uint16 */
#define FFS_DIRENT_TYPE   6 /* uint8 */
#define FFS_DIRENT_NAMLEN 7 /* uint8 */
#define FFS_DIRENT_NAME   8
#define FFS_MAXNAMLEN     255u

/* d_type values. */
#define FFS_DT_UNKNOWN 0
#define FFS_DT_DIR     4
#define FFS_DT_REG     8
#define FFS_DT_LNK     10

#define FFS_MAXPATHLEN  1024u
#define FFS_MAXSYMLINKS 32u

#endif /* XVM_FFS_FORMAT_H */
