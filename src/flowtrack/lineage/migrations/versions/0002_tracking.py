"""tracking: metric history (in chunks), latest metrics, unique context external ids

Every Run context gets an external id (its tracking run id); runs recorded before
this revision get a fresh one here.

Revision ID: 0002_tracking
Revises: 0001_initial
Create Date: 2026-11-21 16:40:00
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = '0002_tracking'
down_revision = '0001_initial'
branch_labels = None
depends_on = None

_CONTEXT_KIND = 2  # _schema.TypeKind.CONTEXT


def upgrade() -> None:
    _give_runs_external_ids()
    op.create_index('uq_contexts_external_id', 'contexts', ['external_id'], unique=True)
    op.create_table('metrics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('min_step', sa.BigInteger(), nullable=False),
    sa.Column('max_step', sa.BigInteger(), nullable=False),
    sa.Column('steps', sa.LargeBinary(), nullable=False),
    sa.Column('timestamps', sa.LargeBinary(), nullable=False),
    sa.Column('metric_values', sa.LargeBinary(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['contexts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_metrics_run_key', 'metrics', ['run_id', 'key', 'min_step'])
    op.create_table('latest_metrics',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('step', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['contexts.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'key'),
    sqlite_with_rowid=False
    )
    op.create_index('ix_latest_metrics_key_value', 'latest_metrics', ['key', 'value'])


def _give_runs_external_ids() -> None:
    bind = op.get_bind()
    run_ids = bind.execute(sa.text(
        "SELECT c.id FROM contexts c JOIN types t ON t.id = c.type_id "
        "WHERE t.name = 'Run' AND t.type_kind = :kind AND c.external_id IS NULL"),
        {"kind": _CONTEXT_KIND}).scalars().all()
    for context_id in run_ids:
        bind.execute(sa.text("UPDATE contexts SET external_id = :ext WHERE id = :id"),
                     {"ext": uuid.uuid4().hex, "id": context_id})


def downgrade() -> None:
    op.drop_index('ix_latest_metrics_key_value', table_name='latest_metrics')
    op.drop_table('latest_metrics')
    op.drop_index('ix_metrics_run_key', table_name='metrics')
    op.drop_table('metrics')
    op.drop_index('uq_contexts_external_id', table_name='contexts')
