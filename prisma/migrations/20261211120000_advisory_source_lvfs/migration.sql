-- LVFS/AppStream firmware metadata is an advisory source of its own (src/feeds/lvfs).
ALTER TYPE "AdvisorySource" ADD VALUE 'lvfs';
