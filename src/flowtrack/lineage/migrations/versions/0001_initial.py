"""initial schema

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-21 13:12:44.778225
"""

import sqlalchemy as sa
from alembic import op

revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=255), server_default='', nullable=False),
    sa.Column('type_kind', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('type_kind', 'name', 'version', name='uq_types_kind_name_version')
    )
    op.create_table('artifacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('create_time_since_epoch', sa.BigInteger(), nullable=False),
    sa.Column('last_update_time_since_epoch', sa.BigInteger(), nullable=False),
    sa.Column('uri', sa.Text(), nullable=True),
    sa.Column('state', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['type_id'], ['types.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('type_id', 'name', name='uq_artifacts_type_name')
    )
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.create_index('ix_artifacts_uri', ['uri'], unique=False)

    op.create_table('contexts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('create_time_since_epoch', sa.BigInteger(), nullable=False),
    sa.Column('last_update_time_since_epoch', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['type_id'], ['types.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('type_id', 'name', name='uq_contexts_type_name')
    )
    op.create_table('executions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('create_time_since_epoch', sa.BigInteger(), nullable=False),
    sa.Column('last_update_time_since_epoch', sa.BigInteger(), nullable=False),
    sa.Column('last_known_state', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['type_id'], ['types.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('type_id', 'name', name='uq_executions_type_name')
    )
    op.create_table('type_properties',
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('data_type', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['type_id'], ['types.id'], ),
    sa.PrimaryKeyConstraint('type_id', 'name'),
    sqlite_with_rowid=False
    )
    op.create_table('artifact_properties',
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('is_custom_property', sa.Boolean(), nullable=False),
    sa.Column('int_value', sa.BigInteger(), nullable=True),
    sa.Column('double_value', sa.Float(), nullable=True),
    sa.Column('string_value', sa.Text(), nullable=True),
    sa.Column('bool_value', sa.Boolean(), nullable=True),
    sa.Column('byte_value', sa.LargeBinary(), nullable=True),
    sa.Column('struct_value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('artifact_id', 'name', 'is_custom_property'),
    sqlite_with_rowid=False
    )
    op.create_table('associations',
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['contexts.id'], ),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], ),
    sa.PrimaryKeyConstraint('context_id', 'execution_id'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('associations', schema=None) as batch_op:
        batch_op.create_index('ix_associations_execution', ['execution_id'], unique=False)

    op.create_table('attributions',
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], ),
    sa.ForeignKeyConstraint(['context_id'], ['contexts.id'], ),
    sa.PrimaryKeyConstraint('context_id', 'artifact_id'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('attributions', schema=None) as batch_op:
        batch_op.create_index('ix_attributions_artifact', ['artifact_id'], unique=False)

    op.create_table('context_properties',
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('is_custom_property', sa.Boolean(), nullable=False),
    sa.Column('int_value', sa.BigInteger(), nullable=True),
    sa.Column('double_value', sa.Float(), nullable=True),
    sa.Column('string_value', sa.Text(), nullable=True),
    sa.Column('bool_value', sa.Boolean(), nullable=True),
    sa.Column('byte_value', sa.LargeBinary(), nullable=True),
    sa.Column('struct_value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['context_id'], ['contexts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_id', 'name', 'is_custom_property'),
    sqlite_with_rowid=False
    )
    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Integer(), nullable=False),
    sa.Column('milliseconds_since_epoch', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], ),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('artifact_id', 'execution_id', 'type', name='uq_events_link')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_execution', ['execution_id'], unique=False)

    op.create_table('execution_properties',
    sa.Column('execution_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('is_custom_property', sa.Boolean(), nullable=False),
    sa.Column('int_value', sa.BigInteger(), nullable=True),
    sa.Column('double_value', sa.Float(), nullable=True),
    sa.Column('string_value', sa.Text(), nullable=True),
    sa.Column('bool_value', sa.Boolean(), nullable=True),
    sa.Column('byte_value', sa.LargeBinary(), nullable=True),
    sa.Column('struct_value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('execution_id', 'name', 'is_custom_property'),
    sqlite_with_rowid=False
    )
    op.create_table('parent_contexts',
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('parent_context_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['contexts.id'], ),
    sa.ForeignKeyConstraint(['parent_context_id'], ['contexts.id'], ),
    sa.PrimaryKeyConstraint('context_id', 'parent_context_id'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('parent_contexts', schema=None) as batch_op:
        batch_op.create_index('ix_parent_contexts_parent', ['parent_context_id'], unique=False)

    op.create_table('event_paths',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_index_step', sa.Boolean(), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=True),
    sa.Column('step_key', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE')
    )
    with op.batch_alter_table('event_paths', schema=None) as batch_op:
        batch_op.create_index('ix_event_paths_event', ['event_id'], unique=False)

    for table in ("artifact_properties", "execution_properties", "context_properties"):
        for column in ("int_value", "double_value"):
            op.create_index(f"ix_{table}_{column}", table,
                            ["name", "is_custom_property", column])
        if op.get_bind().dialect.name == "sqlite":  # see _schema._property_table
            op.create_index(f"ix_{table}_string_value", table,
                            ["name", "is_custom_property", "string_value"])


def downgrade() -> None:
    with op.batch_alter_table('event_paths', schema=None) as batch_op:
        batch_op.drop_index('ix_event_paths_event')

    op.drop_table('event_paths')
    with op.batch_alter_table('parent_contexts', schema=None) as batch_op:
        batch_op.drop_index('ix_parent_contexts_parent')

    op.drop_table('parent_contexts')
    op.drop_table('execution_properties')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_execution')

    op.drop_table('events')
    op.drop_table('context_properties')
    with op.batch_alter_table('attributions', schema=None) as batch_op:
        batch_op.drop_index('ix_attributions_artifact')

    op.drop_table('attributions')
    with op.batch_alter_table('associations', schema=None) as batch_op:
        batch_op.drop_index('ix_associations_execution')

    op.drop_table('associations')
    op.drop_table('artifact_properties')
    op.drop_table('type_properties')
    op.drop_table('executions')
    op.drop_table('contexts')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_index('ix_artifacts_uri')

    op.drop_table('artifacts')
    op.drop_table('types')
