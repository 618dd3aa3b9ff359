// Placeholder: filled in by the sorting work in progress.
export {};
