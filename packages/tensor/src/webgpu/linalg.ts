// Placeholder: filled in by the linalg work in progress.
export {};
