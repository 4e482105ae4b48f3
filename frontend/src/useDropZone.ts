// A drop zone for files: whether something is dragged over it, and its handlers (the dataset
// uploader and the search photo share them).
import { useState } from 'react';
import type { DragEvent } from 'react';

export function useDropZone(onFiles: (files: FileList) => void) {
  const [over, setOver] = useState(false);
  const handlers = {
    onDragEnter: (e: DragEvent<HTMLElement>) => {
      e.preventDefault();
      setOver(true);
    },
    onDragOver: (e: DragEvent<HTMLElement>) => {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    },
    onDragLeave: (e: DragEvent<HTMLElement>) => {
      if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setOver(false);
    },
    onDrop: (e: DragEvent<HTMLElement>) => {
      e.preventDefault();
      setOver(false);
      onFiles(e.dataTransfer.files);
    },
  };
  return { over, handlers };
}
