export { AuditRepository } from './audit-repository.js';
export { HostRepository } from './host-repository.js';
export { InventoryRepository, PACKAGE_CHUNK, type StoredSnapshot } from './inventory-repository.js';
