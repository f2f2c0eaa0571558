/**
 * Free space of a FAT stick counted in its FAT, for mounts whose statfs reports no sizes:
 * fusefat (FUSE, on kernels built without vfat) answers statfs with zero blocks, so the
 * space check before an export had nothing to compare with (issue 11, finding 11). The
 * device behind such a mount is found in the arguments of its fusefat process, its boot
 * sector gives the geometry (Microsoft FAT specification, "BPB"), and every FAT entry that
 * is 0 is a free cluster, exactly what fsck.fat counts. FAT16 and FAT32; FAT12 is left
 * alone (floppies). Reads are capped by the geometry, which is checked first.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/** The geometry of a FAT16/FAT32 volume, from its boot sector. */
export interface FatGeometry {
  bits: 16 | 32;
  clusterBytes: number;
  /** Byte offset of the first FAT. */
  fatOffset: number;
  /** Data clusters (entries 2 .. clusters + 1 of the FAT). */
  clusters: number;
}

/** The geometry in a 512-byte boot sector (pure); undefined when it is not a FAT16/FAT32 boot sector. */
export function parseFatBootSector(b: Buffer): FatGeometry | undefined {
  if (b.length < 512 || b[510] !== 0x55 || b[511] !== 0xaa) return undefined;
  const bytesPerSector = b.readUInt16LE(11);
  const perCluster = b[13]!;
  const reserved = b.readUInt16LE(14);
  const fats = b[16]!;
  const rootEntries = b.readUInt16LE(17);
  const total = b.readUInt16LE(19) || b.readUInt32LE(32);
  const fatSectors = b.readUInt16LE(22) || b.readUInt32LE(36);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector) || ![1, 2, 4, 8, 16, 32, 64, 128].includes(perCluster)) return undefined;
  if (reserved === 0 || fats < 1 || fats > 2 || fatSectors === 0 || total === 0) return undefined;
  const rootSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const dataSectors = total - reserved - fats * fatSectors - rootSectors;
  if (dataSectors <= 0) return undefined;
  const clusters = Math.floor(dataSectors / perCluster);
  // the FAT type follows from the cluster count alone (the specification's rule)
  if (clusters < 4085) return undefined;
  const bits = clusters < 65525 ? 16 : 32;
  if (((clusters + 2) * bits) / 8 > fatSectors * bytesPerSector) return undefined;
  return { bits, clusterBytes: bytesPerSector * perCluster, fatOffset: reserved * bytesPerSector, clusters };
}

/** Free entries (value 0) among FAT entries `first` .. `first + n - 1` held in `buf` (pure; FAT32 entries use the low 28 bits). */
export function countFreeEntries(buf: Buffer, bits: 16 | 32, n: number): number {
  let free = 0;
  for (let i = 0; i < n; i++) {
    const v = bits === 32 ? buf.readUInt32LE(i * 4) & 0x0fffffff : buf.readUInt16LE(i * 2);
    if (v === 0) free++;
  }
  return free;
}

/** Free and total clusters of the FAT volume in `device` (a block device or an image file); undefined when it is not FAT16/32. */
export async function fatFreeSpace(device: string): Promise<{ clusterBytes: number; freeClusters: number; clusters: number } | undefined> {
  const fh = await fsp.open(device, 'r');
  try {
    const boot = Buffer.alloc(512);
    await fh.read(boot, 0, 512, 0);
    const g = parseFatBootSector(boot);
    if (!g) return undefined;
    const entryBytes = g.bits / 8;
    const chunk = Buffer.alloc(1024 * 1024);
    let free = 0;
    // entries 0 and 1 are reserved: data clusters are entries 2 .. clusters + 1
    for (let entry = 2; entry < g.clusters + 2; ) {
      const n = Math.min(chunk.length / entryBytes, g.clusters + 2 - entry);
      const { bytesRead } = await fh.read(chunk, 0, n * entryBytes, g.fatOffset + entry * entryBytes);
      if (bytesRead < n * entryBytes) return undefined;
      free += countFreeEntries(chunk, g.bits, n);
      entry += n;
    }
    return { clusterBytes: g.clusterBytes, freeClusters: free, clusters: g.clusters };
  } finally {
    await fh.close();
  }
}

/** The device fusefat serves at `mountPoint` (from its process's arguments: `fusefat [-o opts] [-f] device mountpoint`); undefined when none does. */
export async function fuseFatDevice(mountPoint: string): Promise<string | undefined> {
  const pids = (await fsp.readdir('/proc')).filter((n) => /^\d+$/.test(n));
  for (const pid of pids) {
    const argv = await fsp.readFile(`/proc/${pid}/cmdline`).then((b) => b.toString('utf8').split('\0').filter(Boolean), () => [] as string[]);
    if (argv.length < 3 || path.basename(argv[0]!) !== 'fusefat') continue;
    const positional: string[] = [];
    for (let i = 1; i < argv.length; i++) {
      if (argv[i] === '-o') i++;
      else if (!argv[i]!.startsWith('-')) positional.push(argv[i]!);
    }
    if (positional.length < 2) continue;
    const cwd = await fsp.readlink(`/proc/${pid}/cwd`).catch(() => '/');
    const [device, point] = positional.slice(-2).map((p) => path.resolve(cwd, p)) as [string, string];
    if ((await fsp.realpath(point).catch(() => point)) === mountPoint) return device;
  }
  return undefined;
}
